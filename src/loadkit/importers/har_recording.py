"""A browser recording (HAR) read: the requests worth replaying, as the replay will send them.

`keep_requests` keeps those to the recording's main host (the one most requests went to) and
`include_hosts`; not static assets (unless `keep_static`), CORS preflights (the browser's, not the
application's), aborted requests, or the request a redirect led to (the client follows redirects
itself): `Dropped` counts what it left out. `har` correlates and writes the scenario.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urljoin, urlsplit

from loadkit.errors import UsageError

STATIC_RESOURCE_TYPES = frozenset(
    {"stylesheet", "script", "image", "font", "media", "manifest", "texttrack", "ping"}
)
STATIC_EXTENSIONS = frozenset({
    ".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp",
    ".avif", ".bmp", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3", ".ogg",
    ".wav", ".pdf", ".zip", ".wasm", ".webmanifest"
})  # fmt: skip
_STATIC_MIME = re.compile(r"^(image/|font/|audio/|video/|text/css|(application|text)/javascript)")

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_TEXT = 2_000_000


@dataclass
class Recorded:
    """One request of the recording, as the replay will send it, and its response."""

    index: int
    method: str
    url: str
    origin: str
    path: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body_kind: Literal["json", "form", "text"] | None
    body: Any
    status: int
    response_headers: list[tuple[str, str]]
    response_text: str
    response_json: Any
    response_is_json: bool
    started: float
    ended: float
    cookies_set: dict[str, str] = field(default_factory=dict)


class HarError(UsageError):
    """A file that is not a usable HAR recording."""


def read_entries(har: Any, source_file: str) -> list[dict[str, Any]]:
    log = har.get("log") if isinstance(har, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise HarError(f"{source_file}: not a HAR file (no log.entries list)")
    good = [e for e in entries if isinstance(e, dict) and isinstance(e.get("request"), dict)]
    return sorted(good, key=lambda e: _time(e.get("startedDateTime")))


def _time(text: Any) -> float:
    if not isinstance(text, str):
        return 0.0
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _headers(raw: Any) -> list[tuple[str, str]]:
    pairs = []
    for header in raw if isinstance(raw, list) else []:
        if isinstance(header, dict) and isinstance(header.get("name"), str):
            pairs.append((header["name"], str(header.get("value", ""))))
    return pairs


def find_header(pairs: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in pairs if k.lower() == name), None)


def _response_text(response: dict[str, Any]) -> str:
    content: Any = response.get("content") or {}
    text = content.get("text") if isinstance(content, dict) else None
    if not isinstance(text, str):
        return ""
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return ""
    return text[:_MAX_TEXT]


def _body(request: dict[str, Any]) -> tuple[Literal["json", "form", "text"] | None, Any, str]:
    post = request.get("postData")
    if not isinstance(post, dict):
        return None, None, ""
    mime = str(post.get("mimeType", "")).lower()
    text = post.get("text")
    if "json" in mime and isinstance(text, str):
        try:
            return "json", json.loads(text), mime
        except ValueError:
            return "text", text, mime
    if mime.startswith("application/x-www-form-urlencoded"):
        pairs = (
            parse_qsl(text, keep_blank_values=True)
            if isinstance(text, str)
            else [(str(p.get("name")), str(p.get("value", ""))) for p in post.get("params", [])]
        )
        if len({k for k, _ in pairs}) == len(pairs):
            return "form", dict(pairs), mime
    if isinstance(text, str) and text:
        return "text", text, mime
    return None, None, mime


def _set_cookies(response: dict[str, Any]) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for cookie in response.get("cookies") or []:
        if isinstance(cookie, dict) and isinstance(cookie.get("name"), str):
            cookies[cookie["name"]] = str(cookie.get("value", ""))
    for name, value in _headers(response.get("headers")):
        if name.lower() == "set-cookie":
            for line in value.split("\n"):
                pair = line.split(";", 1)[0]
                if "=" in pair:
                    key, _, val = pair.partition("=")
                    cookies[key.strip()] = val.strip()
    return cookies


class Dropped:
    def __init__(self) -> None:
        self.static = 0
        self.hosts: dict[str, int] = {}
        self.preflights = 0
        self.aborted = 0
        self.followed = 0
        self.other: list[str] = []

    def lines(self) -> list[str]:
        lines = []
        if self.static:
            lines.append(f"{self.static} static asset(s) (--keep-static keeps them)")
        if self.hosts:
            hosts = ", ".join(sorted(self.hosts))
            lines.append(
                f"{sum(self.hosts.values())} request(s) to other hosts: {hosts} "
                "(--include-host HOST keeps them)"
            )
        if self.preflights:
            lines.append(f"{self.preflights} CORS preflight(s) (the browser's own)")
        if self.followed:
            lines.append(f"{self.followed} request(s) a redirect led to (the client follows)")
        if self.aborted:
            lines.append(f"{self.aborted} request(s) without a response")
        lines += self.other
        return lines


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_static(entry: dict[str, Any], path: str) -> bool:
    if entry.get("_resourceType") in STATIC_RESOURCE_TYPES:
        return True
    last = path.rsplit("/", 1)[-1].lower()
    if "." in last and "." + last.rsplit(".", 1)[1] in STATIC_EXTENSIONS:
        return True
    content = entry.get("response", {}).get("content", {})
    mime = str(content.get("mimeType", "")) if isinstance(content, dict) else ""
    return bool(_STATIC_MIME.match(mime.lower()))


def keep_requests(
    entries: list[dict[str, Any]], include_hosts: Sequence[str], keep_static: bool
) -> tuple[list[Recorded], Dropped]:
    dropped = Dropped()
    candidates: list[tuple[dict[str, Any], str]] = []
    for entry in entries:
        request = entry["request"]
        url = str(request.get("url", ""))
        method = str(request.get("method", "GET")).upper()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            continue  # data:, blob:, chrome-extension:, ws:
        headers = _headers(request.get("headers"))
        if method == "OPTIONS" and find_header(headers, "access-control-request-method"):
            dropped.preflights += 1
            continue
        response = entry.get("response") if isinstance(entry.get("response"), dict) else {}
        if not isinstance(response, dict) or not int(response.get("status") or 0):
            dropped.aborted += 1
            continue
        if method not in _METHODS:
            dropped.other.append(f"{method} {parts.path}: not a method scenarios send")
            continue
        if not keep_static and method == "GET" and _is_static(entry, parts.path):
            dropped.static += 1
            continue
        candidates.append((entry, url))
    main = main_origin([url for _, url in candidates])
    wanted = {h.lower() for h in include_hosts}
    kept: list[Recorded] = []
    follow: str | None = None
    for entry, url in candidates:
        parts = urlsplit(url)
        if _origin(url) != main and not ({parts.netloc.lower(), (parts.hostname or "")} & wanted):
            dropped.hosts[parts.netloc] = dropped.hosts.get(parts.netloc, 0) + 1
            continue
        recorded = _recorded(len(kept), entry, url)
        if follow is not None and url == follow and kept:
            # The client follows the redirect: expect what it led to, capture from it.
            dropped.followed += 1
            previous = kept[-1]
            previous.status = recorded.status
            previous.response_headers = recorded.response_headers
            previous.response_text = recorded.response_text
            previous.response_json = recorded.response_json
            previous.response_is_json = recorded.response_is_json
            previous.cookies_set.update(recorded.cookies_set)
            previous.ended = recorded.ended
            recorded = previous
        else:
            kept.append(recorded)
        location = find_header(recorded.response_headers, "location")
        follow = (
            urljoin(recorded.url, location) if recorded.status in _REDIRECTS and location else None
        )
    return kept, dropped


def main_origin(urls: list[str]) -> str | None:
    counts: dict[str, int] = {}
    for url in urls:
        counts[_origin(url)] = counts.get(_origin(url), 0) + 1
    return max(counts, key=lambda o: counts[o]) if counts else None


def _recorded(index: int, entry: dict[str, Any], url: str) -> Recorded:
    request, response = entry["request"], entry["response"]
    parts = urlsplit(url)
    kind, body, _ = _body(request)
    text = _response_text(response)
    content = response.get("content") if isinstance(response.get("content"), dict) else {}
    mime = str(content.get("mimeType", "")).lower() if isinstance(content, dict) else ""
    parsed: Any = None
    is_json = False
    if text and ("json" in mime or text.lstrip()[:1] in ("{", "[")):
        with contextlib.suppress(ValueError):
            parsed, is_json = json.loads(text), True
    started = _time(entry.get("startedDateTime"))
    duration = entry.get("time")
    ended = started + (float(duration) / 1000 if isinstance(duration, int | float) else 0.0)
    return Recorded(
        index=index,
        method=str(request.get("method", "GET")).upper(),
        url=url,
        origin=_origin(url),
        path=parts.path or "/",
        query=parse_qsl(parts.query, keep_blank_values=True),
        headers=_headers(request.get("headers")),
        body_kind=kind,
        body=body,
        status=int(response.get("status") or 0),
        response_headers=_headers(response.get("headers")),
        response_text=text,
        response_json=parsed,
        response_is_json=is_json,
        started=started,
        ended=max(ended, started),
        cookies_set=_set_cookies(response),
    )
