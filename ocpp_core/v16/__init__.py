"""OCPP 1.6J: the handlers of charge-point-initiated messages."""
