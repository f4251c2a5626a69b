"""Which charge point ids may be registered: the one rule, wherever an id is registered
(the CLI, the portal, an unknown charger admitted at connect)."""

from __future__ import annotations

from ocpp_core.errors import InvalidInput

# OCPP 1.6 has chargeBoxIdentity a CiString48Type: at most 48 printable ASCII characters.
MAX_CHARGE_POINT_ID_LENGTH = 48
_PRINTABLE = frozenset(chr(code) for code in range(0x20, 0x7F))


def charge_point_id_problem(charge_point_id: str) -> str | None:
    """Why `charge_point_id` may not be registered, said for the user; None if it may.

    Beyond OCPP's rule, an id must name one path segment of `/ocpp/{id}` and of the
    portal's and API's addresses (no `/`; not `.` or `..`, which every URL parser folds
    away), and be an HTTP Basic user name (no `:`, which ends it).
    """
    if not charge_point_id:
        return "a charge point id must not be empty"
    if len(charge_point_id) > MAX_CHARGE_POINT_ID_LENGTH:
        return f"a charge point id has at most {MAX_CHARGE_POINT_ID_LENGTH} characters"
    if not _PRINTABLE.issuperset(charge_point_id):
        return "a charge point id holds printable ASCII characters only"
    if "/" in charge_point_id or charge_point_id in (".", ".."):
        return "a charge point id is no path: no '/', and not '.' or '..'"
    if ":" in charge_point_id:
        return "a charge point id holds no ':' (it is the charger's HTTP Basic user name)"
    return None


def check_charge_point_id(charge_point_id: str) -> None:
    """InvalidInput if `charge_point_id` may not be registered (charge_point_id_problem)."""
    problem = charge_point_id_problem(charge_point_id)
    if problem is not None:
        raise InvalidInput(problem)
