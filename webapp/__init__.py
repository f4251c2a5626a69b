"""The aiohttp application: OCPP socket route, JSON API (and later the portal)."""
