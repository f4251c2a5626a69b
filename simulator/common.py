"""What the 1.6 and the 2.0.1 simulators share: their configuration, and the certificates
they hold (roots installed by the central system, and one of their own asked for with a
real CSR)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocpp_core import certificates


@dataclass
class SimulatorConfig:
    # 1.6: connectors 1..N. 2.0.1: EVSEs 1..N, each with one connector.
    connectors: int = 2
    vendor: str = "Voltaro"
    model: str = "Simulator"
    firmware_version: str = "1.0.0"
    power_w: float = 11000.0
    meter_interval: float = 10.0
    # Local sessions started by the simulated driver; None: only remote sessions.
    session_every: float | None = None
    session_length: float = 60.0
    id_tag: str = "SIMTAG"
    # Time runs this many times faster for the meter, so energy visibly rises in a demo.
    energy_speedup: float = 1.0
    # Seconds between the steps of a firmware update or diagnostics upload.
    notification_delay: float = 1.0


@dataclass(frozen=True)
class InstalledCertificate:
    """A root certificate installed by the central system (InstallCertificate)."""

    # 1.6: CentralSystemRootCertificate or ManufacturerRootCertificate; 2.0.1 also
    # CSMSRootCertificate, V2GRootCertificate, MORootCertificate.
    certificate_type: str
    certificate: x509.Certificate
    issuer: x509.Certificate  # itself for a self-signed root

    def hash_data(self, algorithm: str = "SHA256") -> dict[str, str]:
        return certificates.certificate_hash_data(self.certificate, self.issuer, algorithm)


def public_der(key: Any) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def same_certificate(held: dict[str, str], named: dict[str, Any]) -> bool:
    """Whether certificateHashData `named` (as the central system sent it) is `held`'s:
    hex compared without regard to case, serial numbers as numbers."""
    try:
        return (
            held["issuer_name_hash"] == str(named["issuer_name_hash"]).lower()
            and held["issuer_key_hash"] == str(named["issuer_key_hash"]).lower()
            and int(held["serial_number"], 16) == int(str(named["serial_number"]), 16)
        )
    except (KeyError, ValueError):
        return False


def issuer_among(
    certificate: x509.Certificate, installed: list[InstalledCertificate]
) -> x509.Certificate | None:
    """The certificate, among itself and those installed, whose key signed it."""
    for candidate in [certificate, *(c.certificate for c in installed)]:
        try:
            certificate.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        return candidate
    return None


def signing_request(organization: str, common_name: str) -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A new key and the PEM CSR for it, for TLS client authentication."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        )
        .add_extension(certificates.CLIENT_KEY_USAGE, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


def chain_for_key(certificate_chain: str, key: ec.EllipticCurvePrivateKey | None) -> bool:
    """Whether a CertificateSigned chain is one to keep: PEM certificates whose first is
    for `key` (the key of the CSR it asked with), or any chain when it asked for none."""
    try:
        chain = x509.load_pem_x509_certificates(certificate_chain.encode())
    except ValueError:
        return False
    return key is None or public_der(chain[0].public_key()) == public_der(key.public_key())


def refused_tag_hint(id_tag: str, status: str) -> str:
    """Why the central system refused a local session's id tag, and what to do about it:
    a tag it does not have is to be added, one it has only needs it to be usable."""
    add = f"`python -m webapp id-tag add {id_tag}`"
    if status in ("Invalid", "Unknown"):  # 1.6 and 2.0.1 words for a tag it does not have
        return f"id tag {id_tag} is unknown to the central system ({status}); add it with {add}"
    if status in ("Blocked", "Expired"):
        return f"id tag {id_tag} exists but is {status}; replace it with {add}"
    if status == "ConcurrentTx":
        return f"id tag {id_tag} exists but is already in a session elsewhere ({status})"
    return f"id tag {id_tag} exists but is not accepted here ({status})"
