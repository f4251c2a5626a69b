"""Several instances on one PostgreSQL, cooperating over LISTEN/NOTIFY.

- Membership: each instance has a row in `instances` that it renews every `ttl / 3`; an
  instance whose row expired is dead, and the charge points it held are offline.
- Who holds which charge point: written to `charge_point_connections` (batched) before the
  `connected`/`disconnected` event goes out, so the table is never behind the events. Each
  instance keeps the map in memory from the events, and re-reads the table every period
  (and after its LISTEN connection comes back) for anything it missed.
- Events: every event published here is forwarded on the `voltaro_events` channel, packed
  many to a NOTIFY, and delivered on the other instances as if published there. Nothing is
  forwarded while no other instance is alive.
- Operations: a CALL for a charge point held elsewhere goes to the holder's own channel
  (`voltaro_{instance}`); the holder sends it and replies on the asker's channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError

from ocpp_core.cluster import Cluster, Node
from ocpp_core.cluster.notify import MAX_PAYLOAD_BYTES, NotifyTransport
from ocpp_core.cluster.remote_calls import PendingCalls, encode_failure
from ocpp_core.errors import NotConnected, OperationFailed
from ocpp_core.events import Event, EventBus
from ocpp_core.services.instances import InstanceService

LOGGER = logging.getLogger(__name__)

EVENTS_CHANNEL = "voltaro_events"
# Events are gathered this long before they are forwarded, many to a NOTIFY.
FORWARD_DELAY = 0.02
# Connection changes are gathered this long before they are written.
RECORD_DELAY = 0.02
CONNECTION_EVENTS = frozenset({"connected", "disconnected"})
# Leaving the cluster at shutdown takes at most this long per step.
STOP_SECONDS = 5


def instance_channel(instance_id: str) -> str:
    return f"voltaro_{instance_id}"


class PostgresCluster(Cluster):
    clustered = True

    def __init__(
        self, instances: InstanceService, connect_kwargs: Mapping[str, Any], ttl: float
    ) -> None:
        super().__init__()
        self._instances = instances
        self._period = ttl / 3
        self._transport = NotifyTransport(
            connect_kwargs,
            [EVENTS_CHANNEL, instance_channel(self.instance_id)],
            self._received,
            self._reconnected,
        )
        self._node: Node | None = None
        self._bus: EventBus | None = None
        self._peers: set[str] = set()
        self._peer_heard: dict[str, int] = {}  # peer -> generation of its last message
        # Charge point id -> the other instance holding it; `_changed` has the generation
        # of the last event-driven change, so a re-read of the table started before that
        # change does not undo it.
        self._holders: dict[str, str] = {}
        self._changed: dict[str, int] = {}
        self._generation = 0
        self._pending = PendingCalls()
        self._outbox: list[bytes] = []
        self._outbox_ready = asyncio.Event()
        # Charge points connected or disconnected here since the table was last written,
        # and their connection events, forwarded once it is.
        self._dirty: set[str] = set()
        self._dirty_ready = asyncio.Event()
        self._held_events: list[bytes] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._in_flight: set[asyncio.Future[Any]] = set()

    def attach(self, node: Node, bus: EventBus) -> None:
        self._node = node
        self._bus = bus
        bus.forward = self._forward

    # --- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        await self._instances.register(self.instance_id)
        await self._transport.open()
        await self._announce({"hello": True})
        await self._resync()
        self._loops = [
            asyncio.create_task(self._membership()),
            asyncio.create_task(self._send_events()),
            asyncio.create_task(self._write_records()),
        ]
        LOGGER.info("instance %s joined, %d other(s) alive", self.instance_id, len(self._peers))

    async def stop(self) -> None:
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=STOP_SECONDS)
        try:
            async with asyncio.timeout(STOP_SECONDS):  # a database gone must not hang exit
                await self._flush_records()
                await self._flush_events()
                await self._announce({"bye": True})
                await self._instances.deregister(self.instance_id)
        except Exception:
            LOGGER.exception("could not leave the cluster cleanly; the others will time us out")
        for task in list(self._tasks):
            task.cancel()
        await self._transport.close()

    async def _unbroken(self, work: Any) -> None:
        """Run `work` to its end even if its loop is cancelled meanwhile: a query cut off
        half-way leaves its asyncpg connection unusable ("another operation is in
        progress"), and shutting the pool down then waits on it."""
        task = asyncio.ensure_future(work)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        await asyncio.shield(task)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- who holds which charge point -----------------------------------------------------

    def claim(self, charge_point_id: str) -> None:
        self._mark(charge_point_id)

    def release(self, charge_point_id: str) -> None:
        self._mark(charge_point_id)

    def _mark(self, charge_point_id: str) -> None:
        self._dirty.add(charge_point_id)
        self._dirty_ready.set()

    async def _write_records(self) -> None:
        while True:
            await self._dirty_ready.wait()
            await asyncio.sleep(RECORD_DELAY)
            await self._unbroken(self._flush_records())

    async def _flush_records(self) -> None:
        """Write who holds the changed charge points, as the registry says now (so the
        order of quick reconnects cannot confuse it); then let their connection events go."""
        self._dirty_ready.clear()
        batch, self._dirty = self._dirty, set()
        held, self._held_events = self._held_events, []
        assert self._node is not None
        claimed = [cp for cp in batch if self._node.connected_since(cp) is not None]
        released = [cp for cp in batch if self._node.connected_since(cp) is None]
        try:
            try:
                await self._instances.record_connections(self.instance_id, claimed, released)
            except IntegrityError:
                # Our row is gone: we were declared dead (frozen longer than the ttl).
                await self._rejoin()
                await self._instances.record_connections(self.instance_id, claimed, released)
        except Exception:
            # The connections still work here; the next claim or re-read corrects the table.
            LOGGER.exception("could not record %d connection change(s)", len(batch))
        if held and self._peers:
            self._outbox.extend(held)
            self._outbox_ready.set()

    def holder(self, charge_point_id: str) -> str | None:
        return self._holders.get(charge_point_id)

    def held_elsewhere(self) -> frozenset[str]:
        return frozenset(self._holders)

    def _set_holder(self, charge_point_id: str, instance: str | None) -> bool:
        """Change the map; True if it changed."""
        previous = self._holders.get(charge_point_id)
        if previous == instance:
            return False
        if instance is None:
            del self._holders[charge_point_id]
        else:
            self._holders[charge_point_id] = instance
        return True

    async def _membership(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            try:
                await self._unbroken(self._check_membership())
            except Exception:
                LOGGER.exception("cluster membership check failed; trying again")

    async def _check_membership(self) -> None:
        if not await self._instances.renew(self.instance_id):
            await self._rejoin()
        await self._instances.reap()
        await self._resync()

    async def membership(self) -> str | None:
        if not self._loops or any(task.done() for task in self._loops):
            return "this instance's cluster tasks are not running"
        if not self._transport.connected:
            return "the LISTEN connection to PostgreSQL is down: no events or calls arrive"
        if not await self._instances.is_current(self.instance_id):
            return "this instance's presence has expired: the others count it as dead"
        return None

    async def _rejoin(self) -> None:
        LOGGER.warning("instance %s was declared dead; joining again", self.instance_id)
        await self._instances.register(self.instance_id)
        assert self._node is not None
        self._dirty.update(self._node.local_ids())
        self._dirty_ready.set()

    async def _resync(self) -> None:
        """Re-read the live instances and who holds what; deliver what changed here."""
        mark = self._generation
        self._generation += 1
        alive = await self._instances.alive()
        holders = await self._instances.holders(exclude=self.instance_id)
        alive.discard(self.instance_id)
        for peer in self._peers - alive:
            if self._peer_heard.get(peer, -1) <= mark:  # not heard from since the read began
                self._peer_gone(peer)
        self._peers |= alive
        for charge_point_id in set(self._holders) | set(holders):
            if self._changed.get(charge_point_id, -1) > mark:
                continue  # an event after the read began is newer than what was read
            instance = holders.get(charge_point_id)
            if instance is not None and self._node_holds(charge_point_id):
                continue  # both claim it: the connected events settle which is newer
            was = self._holders.get(charge_point_id)
            if self._set_holder(charge_point_id, instance):
                kind = "connected" if instance is not None else "disconnected"
                self._deliver(Event(kind, charge_point_id, {"instance": instance or was}))
        self._changed = {cp: g for cp, g in self._changed.items() if g > mark}

    def _node_holds(self, charge_point_id: str) -> bool:
        return self._node is not None and self._node.connected_since(charge_point_id) is not None

    def _peer_gone(self, peer: str) -> None:
        self._peers.discard(peer)
        self._peer_heard.pop(peer, None)
        self._pending.holder_gone(peer)
        for charge_point_id in [cp for cp, i in self._holders.items() if i == peer]:
            self._set_holder(charge_point_id, None)
            self._changed[charge_point_id] = self._generation
            self._deliver(Event("disconnected", charge_point_id, {"instance": peer}))
        LOGGER.info("instance %s is gone", peer)

    async def _reconnected(self) -> None:
        await self._announce({"hello": True})
        await self._resync()

    # --- events ---------------------------------------------------------------------------

    def _forward(self, event: Event) -> None:
        if event.kind in CONNECTION_EVENTS:
            # After the table says so: a re-read elsewhere must never be behind the event.
            self._held_events.append(self._encode(event))
        elif self._peers:
            self._outbox.append(self._encode(event))
            self._outbox_ready.set()

    @staticmethod
    def _encode(event: Event) -> bytes:
        return orjson.dumps([event.kind, event.charge_point_id, event.data])

    async def _send_events(self) -> None:
        while True:
            await self._outbox_ready.wait()
            await asyncio.sleep(FORWARD_DELAY)
            await self._unbroken(self._flush_events())

    async def _flush_events(self) -> None:
        self._outbox_ready.clear()
        batch, self._outbox = self._outbox, []
        if not batch:
            return
        head = b'{"f":"' + self.instance_id.encode() + b'","e":['
        payloads: list[str] = []
        packed: list[bytes] = []
        size = len(head) + 2
        for encoded in batch:
            if len(head) + len(encoded) + 2 > MAX_PAYLOAD_BYTES:
                payloads.append(await self._by_reference(head + encoded + b"]}"))
                continue
            if packed and size + len(encoded) + 1 > MAX_PAYLOAD_BYTES:
                payloads.append((head + b",".join(packed) + b"]}").decode())
                packed, size = [], len(head) + 2
            packed.append(encoded)
            size += len(encoded) + 1
        if packed:
            payloads.append((head + b",".join(packed) + b"]}").decode())
        await self._transport.notify(EVENTS_CHANNEL, payloads)

    async def _by_reference(self, body: bytes) -> str:
        """A message too big for NOTIFY: kept in the table, its id notified."""
        message_id = await self._instances.store_message(body.decode())
        return orjson.dumps({"f": self.instance_id, "ref": message_id}).decode()

    def _deliver(self, event: Event) -> None:
        if self._bus is not None:
            self._bus.deliver(event)

    def _remote_event(self, sender: str, kind: str, charge_point_id: str, data: Any) -> None:
        if kind == "connected":
            self._set_holder(charge_point_id, sender)
            self._changed[charge_point_id] = self._generation
            connected_at = data.get("at")
            local = self._node.connected_since(charge_point_id) if self._node else None
            if local is not None and connected_at is not None and local < connected_at:
                assert self._node is not None
                self._node.taken_elsewhere(charge_point_id, connected_at)
        elif kind == "disconnected" and self._holders.get(charge_point_id) == sender:
            self._set_holder(charge_point_id, None)
            self._changed[charge_point_id] = self._generation
        self._deliver(Event(kind, charge_point_id, data))

    # --- messages between instances -------------------------------------------------------

    async def _announce(self, body: dict[str, Any]) -> None:
        message = orjson.dumps({"f": self.instance_id, **body}).decode()
        await self._transport.notify(EVENTS_CHANNEL, [message])

    async def _send_to(self, instance: str, body: dict[str, Any]) -> bool:
        message = orjson.dumps({"f": self.instance_id, **body})
        if len(message) > MAX_PAYLOAD_BYTES:
            text = await self._by_reference(message)
        else:
            text = message.decode()
        return await self._transport.notify(instance_channel(instance), [text])

    def _received(self, _channel: str, payload: str) -> None:
        message = orjson.loads(payload)
        if message.get("f") == self.instance_id:
            return  # our own, on the shared channel
        if "ref" in message:
            self._spawn(self._received_by_reference(message["ref"]))
            return
        self._handle(message)

    async def _received_by_reference(self, message_id: int) -> None:
        body = await self._instances.load_message(message_id)
        if body is None:
            LOGGER.warning("cluster message %s is gone before it was read", message_id)
            return
        self._handle(orjson.loads(body))

    def _handle(self, message: dict[str, Any]) -> None:
        sender = message["f"]
        if message.get("bye"):
            self._peer_gone(sender)
            return
        self._peers.add(sender)
        self._peer_heard[sender] = self._generation
        for kind, charge_point_id, data in message.get("e", ()):
            self._remote_event(sender, kind, charge_point_id, data)
        if "call" in message:
            self._spawn(self._serve_call(sender, message["call"]))
        if "reply" in message:
            self._pending.answered(message["reply"]["id"], message["reply"])

    async def call(
        self,
        holder: str,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        wait_seconds: float,
    ) -> dict[str, Any]:
        request_id = self._pending.open(holder, charge_point_id, action)
        request = {"id": request_id, "cp": charge_point_id, "action": action, "payload": payload}
        if not await self._send_to(holder, {"call": request}):
            self._pending.answered(request_id, {"error": "not_connected"})
        return await self._pending.wait(request_id, wait_seconds)

    async def _serve_call(self, asker: str, request: dict[str, Any]) -> None:
        assert self._node is not None
        reply: dict[str, Any] = {"id": request["id"]}
        try:
            answer = await self._node.serve_remote_call(
                request["cp"], request["action"], request["payload"]
            )
            reply["answer"] = answer
        except OperationFailed as error:
            reply.update(encode_failure(error))
        except Exception:
            LOGGER.exception("could not serve %s for instance %s", request["action"], asker)
            reply.update(encode_failure(NotConnected(request["cp"])))
        await self._send_to(asker, {"reply": reply})

    @property
    def peers(self) -> frozenset[str]:
        return frozenset(self._peers)
