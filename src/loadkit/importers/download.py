"""An importer's input from an http(s) URL (an API that serves its own OpenAPI description).

The standard library's client, in the CLI process (no gevent there): TLS certificates are
verified against the system's trust store, the answer is bounded in size and in time, and
every failure is one line that names the URL as it was given.
"""

from __future__ import annotations

import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from loadkit.errors import UsageError

TIMEOUT_S = 30.0
"""The longest a whole download may take (connecting, waiting and reading)."""
_CHUNK = 64 * 1024
_SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class Downloaded:
    text: str
    content_type: str
    """The answer's media type, lower case, without parameters ('' when not given)."""


def is_url(text: str) -> bool:
    return text.lower().startswith(_SCHEMES)


def download(url: str, *, max_bytes: int, timeout_s: float | None = None) -> Downloaded:
    """The body of a 2xx answer to GET `url` (redirects followed), as text. Raises
    UsageError naming `url` when it cannot be had. `timeout_s`: TIMEOUT_S unless given."""
    timeout_s = TIMEOUT_S if timeout_s is None else timeout_s
    parts = urlsplit(url)
    if not parts.hostname:
        raise UsageError(f"{url}: not a URL with a host; write it like http://127.0.0.1:8888/api")
    deadline = time.monotonic() + timeout_s
    request = urllib.request.Request(
        url, headers={"Accept": "application/json, application/yaml;q=0.9, */*;q=0.5"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise UsageError(f"{url}: the answer is larger than {_size(max_bytes)}")
            body = _read(response, url, max_bytes, deadline, timeout_s)
            content_type = response.headers.get_content_type() if response.headers else ""
            charset = response.headers.get_content_charset() or "utf-8"
    except urllib.error.HTTPError as exc:
        raise UsageError(
            f"{url}: the server answered {exc.code} {exc.reason}; check the address"
        ) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise UsageError(f"{url}: no complete answer within {timeout_s:g} s") from None
        raise UsageError(f"{url}: {_reason(exc.reason)}") from None
    except TimeoutError:
        raise UsageError(f"{url}: no complete answer within {timeout_s:g} s") from None
    except (OSError, ValueError) as exc:  # a reset connection, a malformed answer
        raise UsageError(f"{url}: {_reason(exc)}") from None
    try:
        text = body.decode(charset if charset.lower() != "utf-8" else "utf-8-sig")
    except (LookupError, UnicodeDecodeError):
        raise UsageError(f"{url}: the answer is not text ({content_type or 'no type'})") from None
    return Downloaded(text, content_type.lower())


def _read(response: object, url: str, max_bytes: int, deadline: float, timeout_s: float) -> bytes:
    """The body, a chunk at a time, so neither its size nor a slow sender can exceed the
    bounds (the socket's timeout alone bounds each wait, not the whole)."""
    read = getattr(response, "read1", None) or getattr(response, "read")  # noqa: B009
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise UsageError(f"{url}: no complete answer within {timeout_s:g} s")
        chunk: bytes = read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise UsageError(f"{url}: the answer is larger than {_size(max_bytes)}")
        chunks.append(chunk)


def _reason(reason: object) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({reason.verify_message}); use a trusted address"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused; is the service running at that address?"
    if isinstance(reason, socket.gaierror):
        return "unknown host; check the address"
    text = str(getattr(reason, "strerror", None) or reason)
    return f"cannot download it ({text})"


def _size(max_bytes: int) -> str:
    if max_bytes >= 1_000_000:
        return f"{max_bytes / 1_000_000:g} MB"
    return f"{max_bytes:,} bytes"
