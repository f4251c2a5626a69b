"""Simulated charge points for trying and testing the central system: `v16` plays an
OCPP 1.6J charge point, `v201` an OCPP 2.0.1 charging station. Both run on the `ocpp`
library's client side over any connection with `recv()` and `send()`; what they share is
in `common`."""
