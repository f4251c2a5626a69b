"""Charge point certificates (OCPP 1.6 security extension, Security Whitepaper ed. 3):
checking a charger's certificate signing request, signing it with Voltaro's CA or an
external signer command, and the certificateHashData that names a certificate."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, get_args

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPublicKeyTypes,
    CertificatePublicKeyTypes,
    PublicKeyTypes,
)
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from ocpp_core.settings import Settings

# How long an issued charge point certificate is valid (it is renewed over OCPP before).
CERTIFICATE_VALIDITY = timedelta(days=365)
# Issued certificates start this far in the past: chargers' clocks drift.
CLOCK_SKEW = timedelta(minutes=5)
# Seconds an external signer command may take before it is killed (read at each signing).
SIGNER_TIMEOUT = 30.0
# CertificateSigned.req certificateChain maxLength.
MAX_CHAIN_CHARS = 10000
# What a charge point's key may be (Security Whitepaper: RSA 2048 or more, or EC).
MIN_RSA_BITS = 2048
EC_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
# A TLS client's key usage: what issued certificates carry (and the simulator asks for).
CLIENT_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)
HASH_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}


class RequestRefused(ValueError):
    """A SignCertificate CSR that is not signed; the message says why."""


class SigningFailed(RuntimeError):
    """An accepted CSR could not be turned into a certificate chain to send."""


@dataclass(frozen=True)
class SigningRequest:
    """A CSR that passed every check."""

    csr: x509.CertificateSigningRequest
    common_name: str
    key: str  # e.g. "EC P-256", "RSA 2048"

    @property
    def pem(self) -> str:
        # Re-encoded from what was parsed: no text the charger put around it.
        return self.csr.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class SignedChain:
    """What CertificateSigned sends: the charger's certificate first, then its CA(s)."""

    pem: str
    certificate: x509.Certificate

    def describe(self) -> str:
        cn = _common_names(self.certificate.subject)
        return (
            f"serial {self.certificate.serial_number:x}, CN {cn[0] if cn else ''!r}, "
            f"valid until {self.certificate.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}"
        )


def _common_names(name: x509.Name) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _describe_key(key: Any) -> str:
    """The key as a CSR check names it; RequestRefused unless it is one a charger may use."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise RequestRefused(f"RSA key of {key.key_size} bits: at least {MIN_RSA_BITS}")
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = EC_CURVES.get(key.curve.name)
        if curve is None:
            raise RequestRefused(f"EC key on {key.curve.name}: only P-256 or P-384")
        return f"EC {curve}"
    raise RequestRefused(f"{type(key).__name__.removeprefix('_')} key: only RSA or EC")


def _check_usage(csr: x509.CertificateSigningRequest) -> None:
    """Requested extensions, if any, must fit a TLS client's certificate."""
    try:
        extensions = csr.extensions
    except Exception as error:  # malformed or duplicated extensions
        raise RequestRefused(f"its extensions cannot be read: {error}") from None
    for extension in extensions:
        value = extension.value
        if isinstance(value, x509.BasicConstraints) and value.ca:
            raise RequestRefused("it asks for a CA certificate (basicConstraints CA:TRUE)")
        if isinstance(value, x509.KeyUsage):
            if not value.digital_signature:
                raise RequestRefused("key usage without digitalSignature, which a TLS client needs")
            if value.key_cert_sign or value.crl_sign:
                raise RequestRefused("key usage keyCertSign or cRLSign, which are a CA's")
        if isinstance(value, x509.ExtendedKeyUsage):
            if ExtendedKeyUsageOID.CLIENT_AUTH not in value:
                raise RequestRefused("extended key usage without clientAuth")


def check_request(pem: str, serial_number: str | None) -> SigningRequest:
    """The CSR of a SignCertificate, checked: a PEM PKCS#10 request whose self-signature
    verifies, whose subject CN is `serial_number` (the charger's serial on record), with an
    RSA (2048 bits or more) or EC P-256/P-384 key, and usages (if any) of a TLS client.
    Raises RequestRefused saying why not."""
    if not serial_number:
        raise RequestRefused(
            "no serial number on record for this charge point (BootNotification "
            "chargePointSerialNumber): nothing to check the CN against"
        )
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError:
        raise RequestRefused("not a PEM PKCS#10 certificate request") from None
    try:
        key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise RequestRefused("its public key cannot be read") from None
    # Key before signature: an oversized or odd key is refused before it is used.
    description = _describe_key(key)
    try:
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):
        valid = False
    if not valid:
        raise RequestRefused("its signature does not verify with its own key")
    try:
        names = _common_names(csr.subject)
    except ValueError:
        raise RequestRefused("its subject cannot be read") from None
    if len(names) != 1:
        raise RequestRefused(f"its subject has {len(names)} common names, not one")
    if names[0] != serial_number:
        raise RequestRefused(
            f"CN {names[0][:64]!r} is not the serial number on record {serial_number!r}"
        )
    _check_usage(csr)
    return SigningRequest(csr=csr, common_name=names[0], key=description)


def _signs(key: CertificatePublicKeyTypes) -> TypeGuard[CertificateIssuerPublicKeyTypes]:
    """Whether a certificate's key is of a kind that signs (not X25519, X448, ML-KEM)."""
    return isinstance(key, get_args(CertificateIssuerPublicKeyTypes))


def _public_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def checked_chain(pem: str, request: SigningRequest) -> SignedChain:
    """A signer's output, checked before it goes to the charger: PEM certificates, the
    first for the requested key and CN, within CertificateSigned's length."""
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise SigningFailed("the signer's output is not PEM certificates") from None
    leaf = certificates[0]
    if _public_der(leaf.public_key()) != _public_der(request.csr.public_key()):
        raise SigningFailed("the signed certificate is not for the requested key")
    if _common_names(leaf.subject) != [request.common_name]:
        raise SigningFailed(f"the signed certificate is not for CN {request.common_name!r}")
    chain = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)
    if len(chain) > MAX_CHAIN_CHARS:
        raise SigningFailed(
            f"the chain is {len(chain)} characters, CertificateSigned allows {MAX_CHAIN_CHARS}"
        )
    return SignedChain(pem=chain, certificate=leaf)


class Authority(Protocol):
    async def sign(self, request: SigningRequest) -> SignedChain: ...


class FileAuthority:
    """Signs with a CA certificate and key held by Voltaro (CA_CERT, CA_KEY)."""

    def __init__(self, certificates: list[x509.Certificate], key: Any) -> None:
        # The issuing CA first, then whatever chain the CA_CERT file holds after it.
        self.certificate = certificates[0]
        self.chain = certificates
        self._key = key

    @classmethod
    def load(cls, cert_path: str, key_path: str) -> FileAuthority:
        """Read and check the PEM files; ValueError saying what is wrong."""
        try:
            certificates = x509.load_pem_x509_certificates(Path(cert_path).read_bytes())
        except ValueError:
            raise ValueError(f"CA_CERT holds no PEM certificate: {cert_path}") from None
        try:
            key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as error:
            # TypeError: an encrypted key, for which no password is given.
            raise ValueError(f"CA_KEY is not an unencrypted PEM private key: {error}") from None
        certificate = certificates[0]
        if _public_der(key.public_key()) != _public_der(certificate.public_key()):
            raise ValueError("CA_KEY is not the key of CA_CERT (its first certificate)")
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is None or not constraints.value.ca:
            raise ValueError("CA_CERT is not a CA certificate (basicConstraints CA:TRUE)")
        return cls(certificates, key)

    def issue(self, request: SigningRequest, now: datetime | None = None) -> x509.Certificate:
        """The charge point's certificate: the CSR's subject and key, a random serial, a
        year's validity (within the CA's), for TLS client authentication only."""
        now = now or datetime.now(UTC)
        ca = self.certificate
        if not ca.not_valid_before_utc <= now < ca.not_valid_after_utc:
            raise SigningFailed(
                f"the CA certificate is not valid now (until {ca.not_valid_after_utc:%Y-%m-%d})"
            )
        public_key = request.csr.public_key()
        try:
            authority_key = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            )
        except x509.ExtensionNotFound:
            ca_key = ca.public_key()
            if not _signs(ca_key):
                raise SigningFailed("the CA certificate's key cannot sign") from None
            authority_key = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(request.csr.subject)
            .issuer_name(ca.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(min(now + CERTIFICATE_VALIDITY, ca.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(CLIENT_KEY_USAGE, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(authority_key, critical=False)
        )
        # Ed25519/Ed448 keys sign without a separate hash.
        algorithm = (
            None
            if isinstance(self._key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
            else hashes.SHA256()
        )
        return builder.sign(self._key, algorithm)

    async def sign(self, request: SigningRequest) -> SignedChain:
        # An RSA-4096 CA key takes milliseconds a signature: not on the event loop.
        certificate = await asyncio.to_thread(self.issue, request)
        chain = [certificate, *self.chain]
        pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain)
        return checked_chain(pem, request)


class CommandAuthority:
    """Signs with an external command (CA_SIGNER_COMMAND, run by the shell): the CSR PEM
    on its stdin, the certificate chain PEM on its stdout; a non-zero exit refuses."""

    def __init__(self, command: str) -> None:
        self.command = command

    async def sign(self, request: SigningRequest) -> SignedChain:
        timeout = SIGNER_TIMEOUT
        process = await asyncio.create_subprocess_shell(
            self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Its own process group: a timeout kills the shell and what it started.
            start_new_session=True,
        )
        try:
            stdout, stderr = await asyncio.wait_for(
                process.communicate(request.pem.encode()), timeout
            )
        except TimeoutError:
            _kill_group(process.pid)
            await process.wait()
            raise SigningFailed(f"the signer command took longer than {timeout:g} s") from None
        except BaseException:  # cancelled (shutting down): leave nothing running
            _kill_group(process.pid)
            raise
        if process.returncode != 0:
            lines = stderr.decode(errors="replace").strip().splitlines()
            said = f": {lines[-1][:200]}" if lines else ""
            raise SigningFailed(f"the signer command refused it (exit {process.returncode}){said}")
        return checked_chain(stdout.decode(errors="replace"), request)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@functools.lru_cache(maxsize=4)
def _authority(
    ca_cert: str | None, ca_key: str | None, ca_signer_command: str | None
) -> Authority | None:
    if ca_signer_command:
        return CommandAuthority(ca_signer_command)
    if ca_cert and ca_key:
        return FileAuthority.load(ca_cert, ca_key)
    return None


def authority(settings: Settings) -> Authority | None:
    """The CA the settings configure, loaded once; None without one. ValueError if the
    CA files cannot be used (they are checked at start-up, but may change after)."""
    return _authority(settings.ca_cert, settings.ca_key, settings.ca_signer_command)


class AcceptedRequests:
    """SignCertificate requests answered Accepted, until the follow-up after the answer
    signs them: it signs exactly what was checked and accepted, and never decides again
    (the serial on record may have changed in between). Held per connection, and gone
    with it."""

    def __init__(self) -> None:
        self._by_connection: weakref.WeakKeyDictionary[
            object, dict[str, list[tuple[Authority, SigningRequest]]]
        ] = weakref.WeakKeyDictionary()

    def put(
        self, connection: object, csr: str, authority: Authority, request: SigningRequest
    ) -> None:
        pending = self._by_connection.setdefault(connection, {})
        pending.setdefault(csr, []).append((authority, request))

    def take(self, connection: object, csr: str) -> tuple[Authority, SigningRequest] | None:
        pending = self._by_connection.get(connection)
        if not pending or csr not in pending:
            return None
        accepted = pending[csr].pop(0)
        if not pending[csr]:
            del pending[csr]
        if not pending:
            del self._by_connection[connection]
        return accepted


ACCEPTED = AcceptedRequests()


def certificate_hash_data(
    certificate: x509.Certificate, issuer: x509.Certificate, algorithm: str = "SHA256"
) -> dict[str, str]:
    """OCPP's CertificateHashDataType of `certificate` (snake_case keys, as the `ocpp`
    library's payloads): the hex hashes of its issuer's name (DER) and of the issuer's
    public key, and its serial number in hex. These are OCSP's CertID fields (RFC 6960
    4.1.1), which OCPP took over, so they are computed by OCSP's own code."""
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(certificate, issuer, HASH_ALGORITHMS[algorithm]())
        .build()
    )
    return {
        "hash_algorithm": algorithm,
        "issuer_name_hash": request.issuer_name_hash.hex(),
        "issuer_key_hash": request.issuer_key_hash.hex(),
        "serial_number": format(certificate.serial_number, "x"),
    }
