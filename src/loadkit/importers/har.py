"""A browser recording (HAR) -> a scenario that replays it for a new session.

`import_har(har, ...)` is a pure function of the parsed HAR. In order:

1. **Keep** the requests worth replaying (`har_recording`): those to the recording's main
   host and `include_hosts`; not static assets, CORS preflights, aborted requests, or the
   request a redirect led to (the client follows redirects itself).
2. **Correlate**: a value that a request sends (URL path or query, a header, a JSON or form
   field) and an earlier response returned (a JSON field, a header, text around it in an
   HTML page) becomes a `capture` on that response and a `{{ var }}` where it is sent, so
   the replay uses the new session's tokens and ids. A value the client sent before that
   response is the client's own (a user name echoed back), not correlated.
3. **Secrets**: a password field, an Authorization header or API key that no response
   returned becomes `${secret:NAME}`, read from the environment at run time.
4. **Reduce** headers to those that matter, the ones every request sends go to `defaults`;
   pauses between requests become `think_time`.

Cookies are not copied: each simulated user of the generated FastHttpUser classes has its
own cookie jar (Locust's FastHttpSession keeps an `http.cookiejar.CookieJar`), which stores
what `Set-Cookie` responses set and sends it back, as the browser did.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from loadkit.importers import names
from loadkit.importers.har_recording import (
    Dropped,
    HarError,
    Recorded,
    find_header,
    keep_requests,
    main_origin,
    read_entries,
)
from loadkit.importers.skeleton import (
    DEFAULT_SCHEMA_REF,
    ImportedScenario,
    document,
    host_value,
    starting_load,
    thresholds,
)
from loadkit.importers.yaml_writer import Map, Seq, literal_text, literal_value
from loadkit.scenario.durations import format_duration
from loadkit.scenario.templates import parse_json_path, parse_template

__all__ = ["HarError", "import_har", "json_path"]

# Headers that describe the browser or the connection, not the request: the client sends its
# own, or they would make the replay wrong (a stale If-None-Match turns a 200 into a 304).
_DROPPED_HEADERS = frozenset({
    "host", "connection", "content-length", "accept-encoding", "accept-language", "user-agent",
    "referer", "origin", "cookie", "cache-control", "pragma", "if-none-match", "if-modified-since",
    "upgrade-insecure-requests", "dnt", "te", "priority", "keep-alive", "transfer-encoding",
    "expect", "purpose", "x-client-data"
})  # fmt: skip
# A response header worth capturing from (others describe the response, not the session).
_UNCAPTURED_RESPONSE_HEADERS = frozenset({
    "date", "server", "content-type", "content-length", "content-encoding", "connection",
    "keep-alive", "vary", "set-cookie", "cache-control", "expires", "last-modified", "age", "via",
    "transfer-encoding", "accept-ranges", "strict-transport-security",
    "access-control-allow-origin", "access-control-allow-headers", "access-control-allow-methods",
    "access-control-expose-headers", "access-control-max-age", "access-control-allow-credentials",
    "x-content-type-options", "x-frame-options", "x-xss-protection", "content-security-policy",
    "referrer-policy", "alt-svc", "www-authenticate", "allow"
})  # fmt: skip
_ID_LIKE_KEY = re.compile(r"(^|_|-)id$|[a-z]Id$|^id|uuid|guid|token|csrf|xsrf|nonce|key|ref$", re.I)
MIN_STRONG_LENGTH = 8
"""A value at least this long, with a digit, mixed case or punctuation, is taken for an id or
a token wherever it appears; shorter ones only from a field named like an id."""
_MAX_LEAVES = 5000
_MIN_THINK_S = 0.1
_MAX_THINK_S = 60.0


@dataclass(frozen=True)
class _Source:
    """Where an earlier response returned a value: a JSON path, a header, or a regex."""

    entry: int
    kind: Literal["json", "header", "regex"]
    locator: str
    wish: str
    """The variable name this source suggests."""


@dataclass
class _Correlation:
    variable: str
    source: _Source
    uses: list[str] = field(default_factory=list)


def import_har(
    har: Any,
    *,
    name: str,
    source_file: str,
    include_hosts: Sequence[str] = (),
    keep_static: bool = False,
    schema_ref: str = DEFAULT_SCHEMA_REF,
) -> ImportedScenario:
    """The scenario for a parsed HAR document (`json.load` of the file)."""
    entries = read_entries(har, source_file)
    kept, dropped = keep_requests(entries, include_hosts, keep_static)
    if not kept:
        raise HarError(
            f"{source_file}: no request left to replay ({'; '.join(dropped.lines()) or 'empty'})"
        )
    return _Importer(kept, dropped, name, source_file, har, schema_ref).scenario()


# ----------------------------------------------------------------------------- correlation


def _json_leaves(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    stack: list[tuple[tuple[str | int, ...], Any]] = [(path, value)]
    seen = 0
    while stack and seen < _MAX_LEAVES:
        where, node = stack.pop()
        if isinstance(node, dict):
            stack.extend(((*where, str(k)), v) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend(((*where, i), v) for i, v in reversed(list(enumerate(node))))
        elif isinstance(node, str | int) and not isinstance(node, bool) and len(where) <= 12:
            seen += 1
            yield where, node


def json_path(keys: tuple[str | int, ...]) -> str:
    """`('items', 0, 'id')` -> `$.items[0].id`, in the subset loadkit reads."""
    text = "$"
    for key in keys:
        if isinstance(key, int):
            text += f"[{key}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
            text += f".{key}"
        elif "'" not in key:
            text += f"['{key}']"
        else:
            text += f'["{key}"]'
    return text


def _strong(text: str) -> bool:
    return (
        len(text) >= MIN_STRONG_LENGTH
        and bool(
            re.search(r"\d", text)
            or re.search(r"[a-z].*[A-Z]|[A-Z].*[a-z]", text)
            or re.search(r"[-_.~+/=]", text)
        )
        and not re.fullmatch(r"[a-z]+([ -][a-z]+)*", text)
    )


def _wish(keys: tuple[str | int, ...], entry: Recorded) -> str:
    named = [k for k in keys if isinstance(k, str)]
    last = named[-1] if named else ""
    if last.lower() in ("id", "uuid", "") or not names.snake(last):
        parent = named[-2] if len(named) > 1 else entry.path.rstrip("/").rsplit("/", 1)[-1]
        parent = re.sub(r"(ies)$", "y", parent) if parent.endswith("ies") else parent.rstrip("s")
        return f"{parent}_{last or 'value'}" if names.snake(parent) else last or "value"
    return last


def _is_sent(text: str, sent_text: str, sent_tokens: set[str]) -> bool:
    return text in sent_text if _strong(text) else text in sent_tokens


class _Importer:
    def __init__(
        self,
        kept: list[Recorded],
        dropped: Dropped,
        name: str,
        source_file: str,
        har: Any,
        schema_ref: str,
    ) -> None:
        self.kept = kept
        self.dropped = dropped
        self.name = name
        self.source_file = source_file
        self.har = har
        self.schema_ref = schema_ref
        self.main_origin = main_origin([r.url for r in kept]) or kept[0].origin
        self.variables = names.Names()
        self.secret_names = names.Names(upper=True)
        self.secrets: dict[str, str] = {}
        self.secret_by_value: dict[str, str] = {}
        self.correlations: dict[str, _Correlation] = {}  # by value text
        self.captures: dict[int, dict[str, _Source]] = {}
        self.cookies_set: set[str] = set()
        self.notes: list[str] = []
        self._sources = self._index_sources()

    # -- where values came from ------------------------------------------------------------

    def _index_sources(self) -> dict[str, list[_Source]]:
        """Every value a response returned that the client had not sent before it."""
        sources: dict[str, list[_Source]] = {}
        sent_text = ""
        sent_tokens: set[str] = set()
        for entry in self.kept:
            request_text = self._request_text(entry)
            sent_text += "\n" + request_text
            sent_tokens |= set(re.split(r"[^A-Za-z0-9_.~-]+", request_text))
            if entry.response_is_json:
                for keys, value in _json_leaves(entry.response_json):
                    text = str(value)
                    if not text or _is_sent(text, sent_text, sent_tokens):
                        continue
                    last = next((k for k in reversed(keys) if isinstance(k, str)), "")
                    if not (_strong(text) or (_ID_LIKE_KEY.search(last) and len(text) < 64)):
                        continue
                    source = _Source(entry.index, "json", json_path(keys), _wish(keys, entry))
                    sources.setdefault(text, []).append(source)
            for header, value in entry.response_headers:
                if header.lower() in _UNCAPTURED_RESPONSE_HEADERS or not value:
                    continue
                if _is_sent(value, sent_text, sent_tokens) or not (
                    _strong(value) or header.lower() in ("location", "etag")
                ):
                    continue
                source = _Source(entry.index, "header", header, header)
                sources.setdefault(value, []).append(source)
        return sources

    @staticmethod
    def _request_text(entry: Recorded) -> str:
        parts = [entry.path, *(f"{k}={v}" for k, v in entry.query)]
        parts += [f"{k}: {v}" for k, v in entry.headers if k.lower() not in _DROPPED_HEADERS]
        if entry.body_kind == "json":
            parts.append(json.dumps(entry.body, ensure_ascii=False))
            parts += [str(v) for _, v in _json_leaves(entry.body)]
        elif entry.body_kind == "form":
            parts += [f"{k}={v}" for k, v in entry.body.items()]
        elif entry.body_kind == "text":
            parts.append(str(entry.body))
        return "\n".join(parts)

    def _source_for(self, text: str, before: int) -> _Source | None:
        """The earliest response before request `before` that returned `text`."""
        candidates = [s for s in self._sources.get(text, []) if s.entry < before]
        if candidates:
            return min(candidates, key=lambda s: (s.entry, s.kind != "json", len(s.locator)))
        if not _strong(text):
            return None
        for entry in self.kept[:before]:  # text around it in an HTML page or script
            if entry.response_is_json or text not in entry.response_text:
                continue
            if text in "\n".join(self._request_text(e) for e in self.kept[: entry.index + 1]):
                continue
            pattern = _boundary_regex(entry.response_text, text)
            if pattern is not None:
                return _Source(entry.index, "regex", pattern, _regex_wish(pattern))
        return None

    def _variable(self, text: str, before: int, where: str, hint: str = "") -> str | None:
        """`{{ name }}` for a value an earlier response returned, capturing it there."""
        known = self.correlations.get(text)
        if known is None:
            source = self._source_for(text, before)
            if source is None:
                return None
            wish = hint if source.kind == "regex" and names.snake(hint) else source.wish
            variable = self.variables.name(wish, text)
            known = self.correlations[text] = _Correlation(variable, source)
            self.captures.setdefault(source.entry, {})[variable] = source
        known.uses.append(where)
        return f"{{{{ {known.variable} }}}}"

    def _substitute(
        self, text: str, before: int, where: str, *, exact_only: bool = False, hint: str = ""
    ) -> str:
        """`text` with every correlated value in it templated; literal text escaped. `hint`
        names the variable when the response does not (a value found in a page's text)."""
        whole = self._variable(text, before, where, hint) if text else None
        if whole is not None:
            return whole
        if exact_only:
            return literal_text(text)
        pieces: list[str] = []
        for piece in re.split(r"([A-Za-z0-9_.~+/=-]{8,})", text):
            if piece and _strong(piece):
                variable = self._variable(piece, before, where)
                if variable is None:
                    # A longer match failed: try the parts between separators (a.b.c JWT-ish).
                    pieces.append(literal_text(piece))
                    continue
                pieces.append(variable)
            else:
                pieces.append(literal_text(piece))
        return "".join(pieces)

    def _secret(self, value: str, wish: str, what: str) -> str:
        name = self.secret_by_value.get(value)
        if name is None:
            name = self.secret_names.name(wish, value)
            self.secret_by_value[value] = name
            self.secrets[name] = what
        return f"${{secret:{name}}}"

    # -- one request ---------------------------------------------------------------------

    def _url(self, entry: Recorded) -> str:
        where = f"the URL of {entry.method} {entry.path}"
        segments = [
            self._substitute(segment, entry.index, where, exact_only=not _strong(segment))
            if segment
            else ""
            for segment in entry.path.split("/")
        ]
        path = "/".join(segments)
        if entry.origin != self.main_origin:
            return literal_text(entry.origin) + path
        return path

    def _params(self, entry: Recorded) -> Map | None:
        if not entry.query:
            return None
        return self._fields(entry.query, entry, "query parameter")

    def _fields(self, pairs: Iterable[tuple[str, str]], entry: Recorded, what: str) -> Map:
        """Named text values a request sends (query parameters, form fields): each correlated
        with an earlier response, or a secret when its name says so, or written as recorded."""
        fields = Map()
        for key, value in pairs:
            where = f"{what} {key} of {entry.method} {entry.path}"
            filled = self._substitute(
                value, entry.index, where, exact_only=not _strong(value), hint=key
            )
            comment = None
            if filled == literal_text(value) and names.is_sensitive(key) and value:
                filled = self._secret(value, key, f"{what} {key} of {entry.path}")
                comment = "secret: see the top of the file"
            fields.add(key, filled, comment)
        return fields

    def _headers_and_auth(self, entry: Recorded) -> tuple[Map, Map | None, list[str]]:
        headers = Map()
        auth: Map | None = None
        notes: list[str] = []
        cookie = find_header(entry.headers, "cookie")
        if cookie:
            kept_cookies = self._unrecorded_cookies(cookie, entry)
            if kept_cookies:
                headers.add("Cookie", kept_cookies, "decide: cookies set before the recording")
        for key, value in entry.headers:
            lower = key.lower()
            if lower in _DROPPED_HEADERS or key.startswith(":") or lower.startswith("sec-"):
                continue
            if lower == "content-type" and entry.body_kind in ("json", "form"):
                continue  # json: and form: set it
            if lower == "accept" and value == "*/*":
                continue
            where = f"header {key} of {entry.method} {entry.path}"
            if lower == "authorization":
                auth, comment = self._authorization(value, entry, where)
                if comment:
                    notes.append(comment)
                continue
            filled = self._substitute(value, entry.index, where, hint=key)
            comment = None
            if filled == literal_text(value) and names.is_sensitive_header(key):
                filled = self._secret(value, key, f"header {key} of {entry.path}")
                comment = "secret: see the top of the file"
            headers.add(key, filled, comment)
        return headers, auth, notes

    def _authorization(self, value: str, entry: Recorded, where: str) -> tuple[Map, str | None]:
        scheme, _, credentials = value.partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer" and credentials:
            filled = self._substitute(credentials, entry.index, where, exact_only=True)
            if filled != literal_text(credentials):  # a token a response returned
                return Map().add("bearer", filled), None
            secret = self._secret(credentials, "bearer_token", f"the bearer token of {entry.path}")
            return Map().add("bearer", secret), "secret bearer token: see the top of the file"
        if scheme.lower() == "basic" and credentials:
            try:
                user, _, password = base64.b64decode(credentials).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user, password = "", ""
            if user:
                secret = self._secret(password, "password", f"the Basic auth password of {user}")
                basic = Map().add("username", literal_text(user)).add("password", secret)
                return Map().add("basic", basic), "secret password: see the top of the file"
        secret = self._secret(value, "authorization", f"the Authorization header of {entry.path}")
        # The whole header value, so it goes in as a header, not as `auth`.
        return Map().add("header", secret), "secret: see the top of the file"

    def _unrecorded_cookies(self, cookie: str, entry: Recorded) -> str | None:
        """The cookies the request sent that no earlier response set (the jar sends those)."""
        kept = []
        for pair in cookie.split(";"):
            key, sep, value = pair.strip().partition("=")
            if not sep or key in self.cookies_set:
                continue
            if names.is_sensitive(key) or _strong(value) or "session" in key.lower():
                value = self._secret(value, f"cookie_{key}", f"cookie {key} sent to {entry.path}")
            else:
                value = literal_text(value)
            kept.append(f"{literal_text(key)}={value}")
        return "; ".join(kept) or None

    def _json_body(self, value: Any, entry: Recorded, key: str = "") -> Any:
        where = f"the body of {entry.method} {entry.path}"
        if isinstance(value, dict):
            # Keys are sent as written (never filled in), so they are not escaped.
            return {str(k): self._json_body(v, entry, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._json_body(v, entry, key) for v in value]
        if isinstance(value, bool) or value is None or isinstance(value, float):
            return value
        if isinstance(value, int):
            # Only a number the response returned as a number: `{{ id }}` keeps its type.
            returned = self._sources.get(str(value), [])
            if any(s.kind == "json" for s in returned):
                variable = self._variable(str(value), entry.index, f"{where} ({key})")
                if variable is not None:
                    return variable
            return value
        text = str(value)
        filled = self._substitute(
            text, entry.index, f"{where} ({key})", exact_only=not _strong(text), hint=key
        )
        if filled == literal_text(text) and names.is_sensitive(key) and text:
            return self._secret(text, key, f"{key} sent in the body of {entry.method} {entry.path}")
        if text in self.correlations and re.fullmatch(r"\{\{ \w+ \}\}", filled):
            source = self.correlations[text].source
            if self._returned_as_number(source):
                return literal_text(text)  # a string in the request, a number in the response
        return filled

    def _returned_as_number(self, source: _Source) -> bool:
        if source.kind != "json":
            return False
        entry = self.kept[source.entry]
        node: Any = entry.response_json
        for key in parse_json_path(source.locator):
            node = node[key]
        return isinstance(node, int)

    def _request(self, entry: Recorded) -> tuple[Map, list[str]]:
        request = Map()
        if entry.method != "GET":
            request.add("method", entry.method)
        url = self._url(entry)
        request.add("url", url)
        name = _stats_name(url)
        if name is not None:
            request.add("name", name)
        params = self._params(entry)
        if params is not None:
            request.add("params", params)
        headers, auth, notes = self._headers_and_auth(entry)
        if auth is not None and auth.entries[0].key == "header":
            headers.add("Authorization", auth.entries[0].value, notes.pop() if notes else None)
            auth = None
        if headers.entries:
            request.add("headers", headers)
        if auth is not None:
            request.add("auth", auth, notes.pop() if notes else None)
        if entry.body_kind == "json":
            request.add("json", _to_tree(self._json_body(entry.body, entry)))
        elif entry.body_kind == "form":
            request.add("form", self._fields(entry.body.items(), entry, "form field"))
        elif entry.body_kind == "text":
            text = str(entry.body)
            where = f"the body of {entry.method} {entry.path}"
            request.add("body", self._substitute(text, entry.index, where))
        return request, notes

    # -- the scenario --------------------------------------------------------------------

    def scenario(self) -> ImportedScenario:
        steps: list[Map] = []
        requests: list[Map] = []
        for entry in self.kept:
            request, _ = self._request(entry)
            requests.append(request)
            self.cookies_set |= set(entry.cookies_set)
        common = _common_headers(requests)
        for entry, request in zip(self.kept, requests, strict=True):
            step = Map().add("request", request)
            expect = Map().add("status", entry.status)
            comment = None
            if entry.status == 304:
                expect = Map().add("status", Seq().add(200).add(304))
                comment = "the browser had it cached; without the cache this is a 200"
            elif entry.status >= 400:
                comment = f"decide: it failed in the recording too ({entry.status})"
            step.add("expect", expect, comment)
            steps.append(step)
        self._add_captures(steps)
        self._add_think_times(steps)
        flow = Seq()
        for step in steps:
            flow.add(step)
        task = Map().add("name", "recorded flow").add("flow", flow)
        user = (
            Map()
            .add("name", "browser")
            .add(
                "tasks",
                Seq().add(task),
                above=[
                    "Each run of the task replays the whole recording. A sign-in that a user does",
                    "once belongs in on_start; one account per user comes from a data file",
                    "(data: + order: unique, see scenarios/login-flow.yaml).",
                ],
            )
        )
        root = Map()
        root.add("name", names.scenario_name(self.name))
        root.add(
            "description",
            f"Imported from the browser recording {self.source_file}",
        )
        root.add("host", host_value(self.main_origin), "the recorded host; --host or TARGET_HOST")
        root.add("load", starting_load(), "decide: users, spawn rate and duration")
        defaults = Map().add(
            "think_time", Map().add("constant", "1s"), "decide: the pause between two replays"
        )
        if common.entries:
            defaults.add("headers", common)
        root.add("defaults", defaults)
        root.add("users", Seq().add(user))
        root.add("thresholds", thresholds())
        return ImportedScenario(
            text=document(
                root, schema_ref=self.schema_ref, summary=self._summary(), secrets=self.secrets
            ),
            secrets=dict(self.secrets),
            notes=self.notes + [f"dropped {line}" for line in self.dropped.lines()],
        )

    def _add_captures(self, steps: list[Map]) -> None:
        for index, captures in sorted(self.captures.items()):
            capture = Map()
            for variable, source in captures.items():
                correlation = next(c for c in self.correlations.values() if c.variable == variable)
                uses = list(dict.fromkeys(correlation.uses))
                used = uses[0] + (f" and {len(uses) - 1} more" if len(uses) > 1 else "")
                if source.kind == "json":
                    capture.add(variable, source.locator, f"sent later in {used}")
                elif source.kind == "header":
                    capture.add(
                        variable, Map().add("header", source.locator), f"sent later in {used}"
                    )
                else:
                    capture.add(
                        variable,
                        Map().add("regex", source.locator),
                        f"decide: built from the recorded page; sent later in {used}",
                    )
            steps[index].add("capture", capture)

    def _add_think_times(self, steps: list[Map]) -> None:
        for entry, following, step in zip(self.kept, self.kept[1:], steps, strict=False):
            pause = following.started - entry.ended
            if pause < _MIN_THINK_S:
                continue
            seconds = round(min(pause, _MAX_THINK_S), 1)
            comment = (
                "the recorded pause"
                if pause <= _MAX_THINK_S
                else (f"recorded {format_duration(round(pause))}, shortened")
            )
            step.add("think_time", Map().add("constant", format_duration(seconds)), comment)

    def _summary(self) -> list[str]:
        creator = self.har.get("log", {}).get("creator", {}) if isinstance(self.har, dict) else {}
        by = ""
        if isinstance(creator, dict) and creator.get("name"):
            by = f" (recorded by {creator.get('name')} {creator.get('version', '')}".rstrip() + ")"
        lines = [
            f"Imported by `loadkit import har {self.source_file}`{by}: "
            f"{len(self.kept)} request(s) to {self.main_origin}.",
            "Review it before pointing it at a system: lines marked 'decide' need a person.",
        ]
        dropped = self.dropped.lines()
        if dropped:
            lines.append("Left out: " + dropped[0] + ("," if len(dropped) > 1 else "."))
            lines += [
                f"  {line}" + ("," if i < len(dropped) - 2 else ".")
                for i, line in enumerate(dropped[1:])
            ]
        if self.correlations:
            lines.append(
                f"Correlated: {len(self.correlations)} value(s) that a response returned and a "
                "later request sent"
            )
            lines.append("are captured from the response and sent as {{ variables }}.")
        lines.append(
            "Cookies are not copied: each simulated user's cookie jar (Locust's FastHttpUser)"
        )
        lines.append("stores what Set-Cookie responses set and sends it back, as the browser did.")
        return lines


def _stats_name(url: str) -> str | None:
    """The statistics name of a templated url, readable as OpenAPI writes a path:
    `/api/cases/{{ case_id }}` -> `/api/cases/{case_id}`; None when the url reads as it is."""
    loaded = url.replace("$$", "$")  # what the loader reads: the importer writes no `${VAR}`
    parts = parse_template(loaded)
    readable = "".join(
        p if isinstance(p, str) else f"{{{'env.' if p.env else ''}{p.name}}}" for p in parts
    )
    return None if readable == loaded else literal_value(readable)


def _to_tree(value: Any) -> Any:
    if isinstance(value, dict):
        tree = Map()
        for key, item in value.items():
            tree.add(key, _to_tree(item))
        return tree
    if isinstance(value, list):
        seq = Seq()
        for item in value:
            seq.add(_to_tree(item))
        return seq
    return value


def _common_headers(requests: list[Map]) -> Map:
    """Headers every request sends with the same value, moved from them to `defaults`."""
    maps = []
    for request in requests:
        try:
            headers = request.get("headers")
        except KeyError:
            return Map()
        assert isinstance(headers, Map)
        maps.append(headers)
    if len(maps) < 2:
        return Map()
    first = {e.key: e.value for e in maps[0].entries if not e.comment}
    common = {
        key: value
        for key, value in first.items()
        if isinstance(value, str)
        and "{{" not in value
        and "${" not in value.replace("$${", "")
        and all(any(e.key == key and e.value == value for e in m.entries) for m in maps)
    }
    for request, headers in zip(requests, maps, strict=True):
        headers.entries = [e for e in headers.entries if e.key not in common]
        if not headers.entries:
            request.entries = [e for e in request.entries if e.key != "headers"]
    result = Map()
    for key, value in common.items():
        result.add(key, value)
    return result


def _boundary_regex(page: str, value: str) -> str | None:
    """A regex capturing `value` from `page` by the text just before it (as a hidden input's
    `name="csrf" value="`), up to the character after it: the shortest such text, from the
    start of a word, whose first match in the page is the value."""
    at = page.find(value)
    after = page[at + len(value) : at + len(value) + 1]
    stop = _escape(after) if after else r"\s"
    for reach in (32, 48, 64, 16):  # 32: a hidden input's name and value attributes
        left = page[max(0, at - reach) : at].split("\n")[-1]
        words = re.split(r"(?<=[\s<>,;{])", left, maxsplit=1)
        if len(words) == 2 and len(words[1]) >= 3:
            left = words[1]  # from a word: `name="csrf" value="`, not `den" name=...`
        if len(left.strip()) < 3:
            continue
        pattern = f"{_escape(left)}([^{stop}\\s<>]+)"
        match = re.search(pattern, page)
        if match is not None and match.group(1) == value:
            return pattern
    return None


def _escape(text: str) -> str:
    """re.escape that leaves spaces, quotes and = alone, so the pattern reads like the page."""
    return re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", text)


def _regex_wish(pattern: str) -> str:
    found = re.findall(r"name=\\?[\"']?([A-Za-z_][\w-]*)", pattern.replace("\\", ""))
    return found[-1] if found else "value"
