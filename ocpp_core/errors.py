"""The typed outcomes of a request that did not end in a plain answer."""

from __future__ import annotations


class NotFound(LookupError):
    """The named charge point, transaction or record does not exist."""


class InvalidInput(ValueError):
    """A request breaks the OCPP schema or a rule of meaning; nothing was sent."""


class AlreadyExists(ValueError):
    """What a request would create exists already (made at the same moment, perhaps)."""


class OperationFailed(Exception):
    """A CALL to a charge point did not produce a valid answer."""


class NotConnected(OperationFailed):
    """The charge point has no open connection (or lost it while we waited)."""

    def __init__(self, charge_point_id: str) -> None:
        super().__init__(f"charge point {charge_point_id!r} is not connected")
        self.charge_point_id = charge_point_id


class NotAccepted(OperationFailed):
    """The charge point's registration is Pending or Rejected: sessions cannot be started
    or stopped remotely until an operator accepts it."""

    def __init__(self, charge_point_id: str, registration_status: str) -> None:
        super().__init__(f"charge point {charge_point_id!r} is {registration_status}, not Accepted")
        self.charge_point_id = charge_point_id
        self.registration_status = registration_status


class CallTimedOut(OperationFailed):
    """The charge point did not answer within CALL_TIMEOUT."""

    def __init__(self, charge_point_id: str, action: str, timeout: float) -> None:
        super().__init__(
            f"charge point {charge_point_id!r} did not answer {action} within {timeout:g} s"
        )
        self.charge_point_id = charge_point_id
        self.action = action
        self.timeout = timeout


class CallErrorReply(OperationFailed):
    """The charge point answered with a CALLERROR."""

    def __init__(self, code: str, description: str, details: object = None) -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description
        self.details = details


class InvalidReply(OperationFailed):
    """The charge point's answer breaks the OCPP 1.6 schema."""


class NotRegistered(LookupError):
    """A charge point's message came after its record was removed, and unknown charge
    points are not registered (UNKNOWN_CHARGE_POINTS=reject)."""

    def __init__(self, charge_point_id: str) -> None:
        super().__init__(f"charge point {charge_point_id!r} is not registered")
        self.charge_point_id = charge_point_id
