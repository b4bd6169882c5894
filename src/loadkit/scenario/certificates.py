"""The PEM files of a scenario's `tls:` settings, checked when the scenario is loaded.

The CA bundle holds only public certificates: it is read here and embedded in the generated
locustfile, so workers that receive the locustfile from the master trust the same CAs. A client
certificate's private key is a secret: it is only checked here, and the generated code reads it
from its path when users start (never copied into the locustfile or the run folder).
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path

from loadkit.scenario.files import read_bounded
from loadkit.scenario.limits import MAX_CERTIFICATE_BYTES

_CERTIFICATE = re.compile(
    r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL
)
_PEM_HINT = "give CA certificates in PEM (-----BEGIN CERTIFICATE-----)"


class CertificateFileError(ValueError):
    """A message fit for the user, and the `tls` key (`client_cert` or `client_key`) it is about."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def read_ca_bundle(base_dir: Path, name: str) -> str:
    """The certificates of a CA bundle as PEM text, one certificate after the other.

    Raises ValueError with a message fit for the user (without the file's location).
    """
    text = _read(base_dir / name, f"CA bundle {name!r}", "ca_bundle")
    if "PRIVATE KEY-----" in text:
        raise ValueError(
            f"CA bundle {name!r} holds a private key, and the bundle is copied into the "
            "locustfile; give a file with only the CA certificates"
        )
    found = _CERTIFICATE.findall(text)
    if not found:
        raise ValueError(f"CA bundle {name!r} holds no certificate; {_PEM_HINT}")
    pem = "\n".join(found) + "\n"
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError(f"CA bundle {name!r} does not load: {exc}; {_PEM_HINT}") from None
    return pem


def check_client_certificate(base_dir: Path, cert: str, key: str | None) -> None:
    """Check that the certificate and its unencrypted private key load together.

    Raises CertificateFileError.
    """
    cert_text = _read(base_dir / cert, f"client certificate {cert!r}", "client_cert")
    if "-----BEGIN CERTIFICATE-----" not in cert_text:
        raise CertificateFileError(
            "client_cert", f"client certificate {cert!r} holds no PEM certificate"
        )
    if key is None and "PRIVATE KEY-----" not in cert_text:
        raise CertificateFileError(
            "client_cert",
            f"client certificate {cert!r} holds no private key; add client_key: KEY_FILE",
        )
    if key is not None:
        _read(base_dir / key, f"client key {key!r}", "client_key")
    key_field, key_name = ("client_key", key) if key is not None else ("client_cert", cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(
            base_dir / cert, None if key is None else base_dir / key, password=_no_password
        )
    except _EncryptedKey:
        raise CertificateFileError(
            key_field,
            f"the private key in {key_name!r} is encrypted; give an unencrypted key "
            "(Locust cannot ask for a passphrase) and keep the file private",
        ) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            message = f"the private key in {key_name!r} does not belong to certificate {cert!r}"
        else:
            message = f"client certificate {cert!r} and its key do not load: {exc}"
        raise CertificateFileError(key_field, message) from None


class _EncryptedKey(Exception):
    pass


def _no_password() -> str:
    # OpenSSL calls this only for an encrypted key; without it, it would prompt on the terminal.
    raise _EncryptedKey


def _read(path: Path, what: str, key: str) -> str:
    try:
        data = read_bounded(path, what, MAX_CERTIFICATE_BYTES, "give the PEM file itself")
    except FileNotFoundError:
        raise CertificateFileError(
            key, f"{what} not found; paths are relative to the scenario"
        ) from None
    except ValueError as exc:
        raise CertificateFileError(key, str(exc)) from None
    # A DER (binary) file reads as text too, and is then reported as holding no PEM.
    return data.decode("utf-8", errors="replace")
