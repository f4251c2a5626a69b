"""The needs-attention page's thresholds are settings (ATTENTION_*): the page lists by the
ones in force, and says them."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import pytest

from ocpp_core.settings import Settings
from tests.helpers import iso


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Two boots make a loop here (3 by default); a session is quiet after 90 min (15).
    return dataclasses.replace(settings, attention_boot_loop_boots=2, attention_quiet_minutes=90)


async def test_the_thresholds_in_force_decide_what_is_listed(client, connect, portal) -> None:
    twice = await connect("TwiceBooted")
    for _ in range(2):
        await twice.boot()
    once = await connect("OnceBooted")
    await once.boot()
    # An hour without a meter value: quiet by default, not after 90 minutes.
    quiet = await connect("HourQuiet")
    await quiet.boot()
    an_hour_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    await quiet.start(id_tag="Q1", timestamp=iso(an_hour_ago))

    viewer = await portal("viewer")
    status, html = await viewer.get("/attention")
    assert status == 200

    def section(name: str) -> str:
        return re.search(rf'id="attention-{name}".*?</section>', html, re.S).group(0)

    loops = section("boot-loops")
    assert "2 boots or more in 15 min" in loops
    assert 'data-charge-point="TwiceBooted"' in loops and "data-boots>2<" in loops
    assert "OnceBooted" not in loops
    quiet_part = section("quiet")
    assert "without meter values for 90 min or more: 0" in quiet_part
    assert "HourQuiet" not in quiet_part
    said = re.search(r'id="attention-thresholds">(.*?)</p>', html, re.S).group(1)
    assert "sessions without meter values for 90 min; 2 boots in 15 min" in " ".join(said.split())
