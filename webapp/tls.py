"""TLS terminated by Voltaro itself, and client certificates (OCPP 1.6 security profile 3).

Browsers reach the portal on the same port without certificates, so a client certificate
is asked for but not demanded by the handshake; the OCPP route decides who needs one.
"""

from __future__ import annotations

import ssl

from aiohttp import web

from ocpp_core.settings import Settings


def server_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The listening socket's TLS context, or None when TLS is terminated elsewhere."""
    if not settings.tls_cert or not settings.tls_key:
        return None
    # Not create_default_context: that would trust the system's CAs for client certificates.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # Security Whitepaper ed. 3: TLS 1.2 or higher.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    if settings.tls_client_ca:
        context.load_verify_locations(cafile=settings.tls_client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def client_certificate_cn(request: web.Request) -> str | None:
    """The common name of the client certificate the handshake verified, if any."""
    transport = request.transport
    if transport is None:
        return None
    certificate = transport.get_extra_info("peercert")
    if not certificate:
        return None
    for rdn in certificate.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                common_name: str = value
                return common_name
    return None
