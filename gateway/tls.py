"""HTTPS for the gateway itself: a local CA and server certificate for evaluation
(`vestry up --tls self-signed`), made with `cryptography` and kept in the data directory.

Clients must trust the CA, not the server certificate: `SSL_CERT_FILE=ca.pem` for uv,
`--cert ca.pem` for pip, `REQUESTS_CA_BUNDLE` for twine. The server certificate names
localhost, the loopback addresses, this machine's name and the listening host; it is made anew
when one of those is missing or it is near its end.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["SelfSigned", "self_signed", "trust_hint"]

_CA_DAYS = 3650
_SERVER_DAYS = 397  # what browsers and Apple's TLS stack accept for a server certificate
_RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class SelfSigned:
    ca: Path  # what clients trust
    cert: Path
    key: Path


def _names(host: str) -> list[x509.GeneralName]:
    dns = {"localhost", socket.gethostname()}
    ips = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    if host and host not in ("0.0.0.0", "::"):
        try:
            ips.add(ipaddress.ip_address(host))
        except ValueError:
            dns.add(host)
    return [x509.DNSName(d) for d in sorted(dns) if d] + [
        x509.IPAddress(i) for i in sorted(ips, key=str)
    ]


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _ca(
    directory: Path, now: datetime.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = directory / "ca.pem", directory / "ca-key.pem"
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if cert.not_valid_after_utc - now > _RENEW_BEFORE:
            return cert, _load_key(key_path)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Vestry local CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _current(
    path: Path, ca: x509.Certificate, names: list[x509.GeneralName], now: datetime.datetime
) -> bool:
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    if cert.issuer != ca.subject or cert.not_valid_after_utc - now < _RENEW_BEFORE:
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return set(names) <= set(san)


def self_signed(directory: Path, host: str = "127.0.0.1") -> SelfSigned:
    """The CA and server certificate in `directory` (made or renewed as needed)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_cert, ca_key = _ca(directory, now)
    out = SelfSigned(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    names = _names(host)
    if _current(out.cert, ca_cert, names, now) and out.key.exists():
        return out
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Vestry")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(out.key, key)
    out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return out


def trust_hint(ca: Path, index_url: str) -> str:
    """How to make clients trust `ca`, for `vestry up` to print."""
    return (
        f"HTTPS with a local CA: make clients trust {ca}\n"
        f"  uv:    SSL_CERT_FILE={ca} uv pip install --index-url {index_url} ...\n"
        f"  pip:   pip install --cert {ca} --index-url {index_url} ...\n"
        f"  twine: REQUESTS_CA_BUNDLE={ca} twine upload ..."
    )
