"""The cycle collector's policy (webapp.gc_policy): survivors of full collections are
frozen, and frozen garbage in cycles is still collected once the heap has grown enough;
while it is still growing fast (a reconnect storm) that waits, but not for ever."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator

import pytest

from webapp.gc_policy import CollectorPolicy


class Node:
    """A container object the collector tracks; two of them can hold each other."""

    def __init__(self) -> None:
        self.other: Node | None = None


SETTLE = 0.3


@pytest.fixture
async def policy() -> AsyncIterator[CollectorPolicy]:
    installed = CollectorPolicy(
        asyncio.get_running_loop(),
        thaw_factor=1.5,
        settle=SETTLE,
        settled_growth=0.02,
        max_wait=1.5,
    )
    # Counted from a collection of its own: what an earlier test's storm left frozen
    # and has freed since would otherwise put the thaw factor out of these tests' reach.
    installed.install(fresh=True)
    yield installed
    installed.uninstall()


def _tracked_ids() -> set[int]:
    """The objects the collector's generations hold (frozen ones are not among them)."""
    return {id(obj) for obj in gc.get_objects()}


async def test_install_freezes_what_start_up_loaded(policy: CollectorPolicy) -> None:
    assert gc.get_freeze_count() > 0
    assert id(CollectorPolicy) not in _tracked_ids()


async def test_survivors_of_a_full_collection_are_frozen(policy: CollectorPolicy) -> None:
    connections = [Node() for _ in range(1000)]
    assert id(connections[0]) in _tracked_ids()
    frozen_before = gc.get_freeze_count()

    gc.collect()

    assert gc.get_freeze_count() >= frozen_before + 1000
    assert id(connections[0]) not in _tracked_ids()


def _frozen_garbage() -> weakref.ref[Node]:
    """A closed connection's objects: a cycle, frozen while it was alive, then dropped."""
    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    gc.collect()
    assert id(first) not in _tracked_ids()  # frozen
    del first, second
    gc.collect()
    assert gone() is not None, "a frozen cycle waits for the thaw"
    return gone


def _grow_past_the_thaw_factor() -> list[Node]:
    grown = [Node() for _ in range(gc.get_freeze_count())]
    gc.collect()
    return grown


async def _keep_growing(seconds: float) -> list[list[list[int]]]:
    """New connections for `seconds`: 3% of the heap every 50 ms, each step frozen.

    Bounded by the clock, not by a count of steps: on a loaded machine a step (a full
    collection of a large heap) takes longer than 50 ms, and a count would stretch the
    storm past the policy's max_wait. And 3% a step is over the policy's 2% settled growth
    even when a single step falls in a settle window."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    kept = []
    while loop.time() < until:
        # A share of the heap, not a count: after the whole suite has run the frozen heap
        # is millions of objects, and 10,000 a step no longer looked like a storm.
        kept.append([[] for _ in range(max(10_000, gc.get_freeze_count() * 3 // 100))])
        gc.collect()
        await asyncio.sleep(0.05)
    return kept


async def test_frozen_cycles_are_collected_once_the_heap_has_grown(
    policy: CollectorPolicy,
) -> None:
    gone = _frozen_garbage()
    thaws = policy.thaws

    # The heap grows past the thaw factor (new connections), then no more: one thaw.
    grown = _grow_past_the_thaw_factor()
    # The policy thaws once the heap has stopped growing for SETTLE: that time has to pass
    # (and a thaw within it is what is checked).
    await asyncio.sleep(SETTLE * 2)

    assert policy.thaws == thaws + 1
    assert gone() is None
    assert id(grown[0]) not in _tracked_ids()  # alive, frozen again after the thaw


async def test_a_due_thaw_waits_while_the_heap_is_still_growing_fast(
    policy: CollectorPolicy,
) -> None:
    gone = _frozen_garbage()
    thaws = policy.thaws

    grown = _grow_past_the_thaw_factor()
    grown += await _keep_growing(SETTLE * 3)
    assert policy.thaws == thaws, "no full pause in the middle of a storm"
    assert gone() is not None

    await asyncio.sleep(SETTLE * 2)  # the storm is over
    assert policy.thaws == thaws + 1
    assert gone() is None


async def test_a_due_thaw_waits_for_max_wait_at_most(policy: CollectorPolicy) -> None:
    gone = _frozen_garbage()
    thaws = policy.thaws

    grown = _grow_past_the_thaw_factor()
    grown += await _keep_growing(1.5 + SETTLE * 2)  # max_wait 1.5 s, and a check's delay

    assert policy.thaws >= thaws + 1
    assert gone() is None


async def test_a_thaw_due_when_an_app_goes_is_made_by_the_next_one(
    policy: CollectorPolicy,
) -> None:
    """Apps shorter than the settling (a test's) would put a due thaw off for ever: the
    next policy of the process makes it at its start, and carries on otherwise."""
    gone = _frozen_garbage()
    grown = _grow_past_the_thaw_factor()  # due now, but the app goes before it settles
    policy.uninstall()

    loop = asyncio.get_running_loop()
    following = CollectorPolicy(loop, thaw_factor=1.5, settle=SETTLE)
    following.install()
    try:
        assert following.thaws == 1
        assert gone() is None
        assert id(grown[0]) not in _tracked_ids()  # alive, frozen again
    finally:
        following.uninstall()

    # Nothing owed now: the one after carries on without a thaw of its own.
    after = CollectorPolicy(loop, thaw_factor=1.5, settle=SETTLE)
    after.install()
    try:
        assert after.thaws == 0
    finally:
        after.uninstall()
