"""Under UNKNOWN_CHARGE_POINTS=accept anyone can invent ids: how many are registered that
way is bounded (MAX_CHARGE_POINTS), and the ones registered keep connecting."""

from __future__ import annotations

import pytest
from aiohttp import WSServerHandshakeError

from ocpp_core.settings import Settings
from webapp.keys import SERVICES


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return Settings(**{**settings.__dict__, "max_charge_points": 3})


async def test_new_ids_beyond_the_cap_are_not_registered(client, connect) -> None:
    await client.app[SERVICES].charge_points.register("KNOWN")
    for n in (1, 2):
        cp = await connect(f"NEW-{n}")
        assert (await cp.boot())["status"] == "Accepted"
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect("NEW-3")
    assert refused.value.status == 404
    ids = {view.id for view in await client.app[SERVICES].charge_points.list()}
    assert ids == {"KNOWN", "NEW-1", "NEW-2"}
    # Those registered still get in, and an operator may still register more.
    cp = await connect("KNOWN")
    assert (await cp.boot())["status"] == "Accepted"
    await client.app[SERVICES].charge_points.register("BY-HAND")
    cp = await connect("BY-HAND")
    assert (await cp.boot())["status"] == "Accepted"
