"""The audit log (login throttling: tests/security/test_login_throttle.py)."""

from __future__ import annotations

import re

from tests.server_process import run_cli
from webapp.keys import SERVICES


async def test_audit_log_shows_account_changes_and_operations_to_admins(
    portal, client, connect, database_url
) -> None:
    admin = await portal("admin")
    await admin.post("/users", {"username": "temp", "password": "pw", "role": "viewer"})
    temp = next(u for u in await client.app[SERVICES].users.list() if u.username == "temp")
    await admin.post(f"/users/{temp.id}/role", {"role": "operator"})
    await admin.post("/id-tags", {"id_tag": "CARD9"})
    await admin.post("/charge-points", {"charge_point_id": "NEWCP"})
    await admin.post(
        "/charge-points/NEWCP/operations/clear-cache", {}, headers={"HX-Request": "true"}
    )

    code, out = await run_cli(database_url, "id-tag", "add", "FROMCLI")
    assert code == 0, out

    status, html = await admin.get("/audit")
    assert status == 200
    rows = re.findall(
        r"<tr><td[^>]*>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>", html
    )
    assert ("admin", "operation ClearCache", "NEWCP") in rows
    assert ("admin", "register charge point", "NEWCP") in rows
    assert ("admin", "add id tag", "CARD9") in rows
    assert ("admin", "change role", "temp") in rows
    assert ("admin", "add user", "temp") in rows
    assert ("admin", "login", "admin") in rows
    assert ("cli", "add id tag", "FROMCLI") in rows

    operator = await portal("operator")
    status, _ = await operator.get("/audit")
    assert status == 403
