"""The cycle collector's policy (webapp.gc_policy): survivors of full collections are
frozen, and frozen garbage in cycles is still collected once the heap has grown enough."""

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


@pytest.fixture
async def policy() -> AsyncIterator[CollectorPolicy]:
    installed = CollectorPolicy(asyncio.get_running_loop(), thaw_factor=1.5)
    installed.install()
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


async def test_frozen_cycles_are_collected_once_the_heap_has_grown(
    policy: CollectorPolicy,
) -> None:
    # A closed connection's objects: a cycle, frozen while it was alive, then dropped.
    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    gc.collect()
    assert id(first) not in _tracked_ids()  # frozen
    del first, second
    gc.collect()
    assert gone() is not None, "a frozen cycle waits for the thaw"
    thaws = policy.thaws

    # The heap grows past the thaw factor (new connections): one thaw, on the loop.
    grown = [Node() for _ in range(gc.get_freeze_count())]
    gc.collect()
    await asyncio.sleep(0)

    assert policy.thaws == thaws + 1
    assert gone() is None
    assert id(grown[0]) not in _tracked_ids()  # alive, frozen again after the thaw
