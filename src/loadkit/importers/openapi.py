"""An OpenAPI 3 or Swagger 2.0 description -> a scenario with one task per operation.

`import_openapi(spec, ...)` is a pure function of the parsed description. Values come from
the spec: a parameter's example, default or first enum value; a body from its example or
built from its schema. What the spec does not say is not invented, except a number (a
path's `{n}` becomes 1, with a comment): an operation that needs a string only a person
knows (an id, a name) is written commented out, with the reason, for that person to fill in.

Write operations (POST, PUT, PATCH, DELETE) change data: they are written commented out
unless `include_writes`, so nobody points a first scenario at production and deletes
something. `expect.status` is the documented 2xx responses. Credentials the spec's security
schemes ask for become `${secret:NAME}` references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from loadkit.errors import UsageError
from loadkit.importers import names
from loadkit.importers.skeleton import (
    DEFAULT_SCHEMA_REF,
    ImportedScenario,
    document,
    host_value,
    starting_load,
    thresholds,
)
from loadkit.importers.yaml_writer import Map, Seq, literal_text

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SENT_METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
_ALL_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_MAX_DEPTH = 8
_PLACEHOLDER_HOST = "http://127.0.0.1:8080"
_FORMAT_EXAMPLES = {
    "date": "2024-01-31",
    "date-time": "2024-01-31T12:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
}


class OpenApiError(UsageError):
    """A description that cannot be imported."""


@dataclass
class _Operation:
    method: str
    path: str
    task: Map
    problems: list[str] = field(default_factory=list)
    """Why it cannot run as written: it is written commented out."""
    guesses: list[str] = field(default_factory=list)
    accept: str | None = None


def import_openapi(
    spec: Any,
    *,
    source_file: str,
    include_writes: bool = False,
    schema_ref: str = DEFAULT_SCHEMA_REF,
) -> ImportedScenario:
    """The scenario for a parsed OpenAPI 3.x or Swagger 2.0 document."""
    if not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
        raise OpenApiError(f"{source_file}: not an OpenAPI description (no paths)")
    version = str(spec.get("openapi") or spec.get("swagger") or "")
    if not (version.startswith("3.") or version.startswith("2.")):
        raise OpenApiError(
            f"{source_file}: neither OpenAPI 3 (openapi: 3.x) nor Swagger 2.0 (swagger: '2.0')"
        )
    return _Importer(spec, version, source_file, include_writes, schema_ref).scenario()


class _Importer:
    def __init__(
        self,
        spec: dict[str, Any],
        version: str,
        source_file: str,
        include_writes: bool,
        schema_ref: str,
    ) -> None:
        self.spec = spec
        self.v2 = version.startswith("2.")
        self.version = version
        self.source_file = source_file
        self.include_writes = include_writes
        self.schema_ref = schema_ref
        self.secret_names = names.Names(upper=True)
        self.secrets: dict[str, str] = {}
        self.host, self.base_path, self.host_comment = self._server()

    # -- the document ----------------------------------------------------------------------

    def _resolve(self, node: Any, seen: frozenset[str] = frozenset()) -> Any:
        """`{$ref: '#/components/schemas/X'}` -> X (local references only)."""
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#/") or ref in seen:
                return {}
            seen = seen | {ref}
            target: Any = self.spec
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, dict) else None
            node = target if target is not None else {}
        return node

    def _server(self) -> tuple[str, str, str]:
        if self.v2:
            host = self.spec.get("host")
            schemes = self.spec.get("schemes") or ["https"]
            base = str(self.spec.get("basePath") or "")
            if isinstance(host, str) and host:
                return f"{schemes[0]}://{host}", base.rstrip("/"), "the spec's host"
            return _PLACEHOLDER_HOST, base.rstrip("/"), "decide: the spec names no host"
        servers = self.spec.get("servers") or []
        server = servers[0] if servers and isinstance(servers[0], dict) else {}
        url = str(server.get("url") or "")
        for variable, spec in (server.get("variables") or {}).items():
            if isinstance(spec, dict):
                url = url.replace(f"{{{variable}}}", str(spec.get("default", "")))
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/"), "the spec's server"
        return _PLACEHOLDER_HOST, url.rstrip("/"), "decide: the spec names no absolute server"

    # -- values ----------------------------------------------------------------------------

    def _value(self, spec: Any, depth: int = 0) -> tuple[Any, bool]:
        """A value for a parameter or schema, and whether it was guessed (not in the spec)."""
        spec = self._resolve(spec)
        if not isinstance(spec, dict):
            return None, True
        for key in ("example", "x-example", "default"):
            if key in spec:
                return spec[key], False
        examples = spec.get("examples")
        if isinstance(examples, dict) and examples:
            first = self._resolve(next(iter(examples.values())))
            if isinstance(first, dict) and "value" in first:
                return first["value"], False
        if isinstance(examples, list) and examples:
            return examples[0], False
        if isinstance(spec.get("enum"), list) and spec["enum"]:
            return spec["enum"][0], False
        schema = spec.get("schema")
        if isinstance(schema, dict):
            return self._value(schema, depth)
        for combined in ("allOf", "oneOf", "anyOf"):
            if isinstance(spec.get(combined), list) and spec[combined]:
                if combined == "allOf":
                    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
                    for part in spec[combined]:
                        part = self._resolve(part)
                        if isinstance(part, dict):
                            merged["properties"].update(part.get("properties") or {})
                            merged["required"] += part.get("required") or []
                    return self._value(merged, depth)
                return self._value(spec[combined][0], depth)
        kind = spec.get("type")
        if kind == "object" or "properties" in spec:
            if depth >= _MAX_DEPTH:
                return {}, True
            properties = spec.get("properties") or {}
            required = set(spec.get("required") or properties)
            built = {}
            for name, sub in properties.items():
                if name in required and not self._resolve(sub).get("readOnly"):
                    built[name] = self._value(sub, depth + 1)[0]
            return built, True
        if kind == "array":
            return (
                [self._value(spec.get("items") or {}, depth + 1)[0]] if depth < _MAX_DEPTH else []
            ), True
        if kind in ("integer", "number", "int"):
            return spec.get("minimum", 1), True
        if kind == "boolean":
            return True, True
        return _FORMAT_EXAMPLES.get(str(spec.get("format")), "string"), True

    def _parameters(self, item: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [*(item.get("parameters") or []), *(operation.get("parameters") or [])]:
            param = self._resolve(raw)
            if isinstance(param, dict) and isinstance(param.get("name"), str):
                merged[(param["name"], str(param.get("in")))] = param
        return list(merged.values())

    def _secret(self, wish: str, what: str) -> str:
        name = self.secret_names.name(wish, wish)
        self.secrets.setdefault(name, what)
        return f"${{secret:{name}}}"

    # -- one operation ---------------------------------------------------------------------

    def _operation(
        self, path: str, method: str, item: dict[str, Any], operation: dict[str, Any]
    ) -> _Operation:
        request = Map()
        if method != "GET":
            request.add("method", method)
        op = _Operation(method, path, Map())
        url = path
        params, headers, form = Map(), Map(), Map()
        body: Any = None
        for param in self._parameters(item, operation):
            name, where = param["name"], param.get("in")
            required = bool(param.get("required")) or where == "path"
            value, guessed = self._value(param)
            kind = str(self._resolve(param.get("schema") or param).get("type") or "")
            if where == "header" and names.is_sensitive_header(name):
                # Documented, so probably needed: sent, from the environment.
                headers.add(name, self._secret(name, f"the {name} header"), "secret: see the top")
                continue
            if where == "header" and name.lower() in ("accept", "content-type"):
                continue
            if guessed and not required:
                continue  # an optional parameter the spec gives no value for
            if guessed and where == "body":
                pass
            elif guessed and kind not in ("integer", "number", "int"):
                op.problems.append(
                    f"{{{name}}}" if where == "path" else f"{where} parameter {name}"
                )
                if where == "path":
                    continue
                value = f"FILL-IN-{name}"
            elif guessed:
                op.guesses.append(f"{name}={value}")
            if where == "path":
                url = url.replace(f"{{{name}}}", literal_text(_text(value)))
            elif where == "query":
                if names.is_sensitive(name):
                    params.add(name, self._secret(name, f"query parameter {name}"))
                else:
                    params.add(name, literal_text(_text(value)))
            elif where == "header":
                headers.add(name, literal_text(_text(value)))
            elif where == "formData":
                form.add(name, literal_text(_text(value)))
            elif where == "body":
                body = ("json", value, guessed)
            elif where == "cookie":
                op.problems.append(f"cookie {name}")
        if not self.v2:
            body = self._request_body(operation, op) or body
        op.problems += [
            f"{{{p}}} (not described)"
            for p in re.findall(r"\{(\w+)\}", url)
            if f"{{{p}}}" not in op.problems
        ]
        request.add("url", self.base_path + url)
        if params.entries:
            request.add("params", params)
        self._security(operation, headers, params, request)
        accept = self._accept(operation)
        op.accept = accept
        if accept is not None:
            headers.entries.insert(0, _header_entry("Accept", accept))
        if headers.entries:
            request.add("headers", headers)
        if form.entries:
            request.add("form", form)
        elif body is not None:
            kind, value, guessed = body
            request.add(kind, _tree(value), "decide: built from the schema" if guessed else None)
        if url != path:
            request.add("name", self.base_path + path)
        task = Map().add("name", f"{method} {self.base_path}{path}")
        task.add("request", request)
        expect = self._expect(operation)
        if expect is not None:
            task.add("expect", expect[0], expect[1])
        op.task = task
        return op

    def _request_body(self, operation: dict[str, Any], op: _Operation) -> Any:
        body = self._resolve(operation.get("requestBody"))
        if not isinstance(body, dict) or not isinstance(body.get("content"), dict):
            return None
        content = body["content"]
        for mime, media in content.items():
            if "json" in mime:
                value, guessed = self._value(self._resolve(media))
                return ("json", value, guessed)
        for mime, media in content.items():
            if mime.startswith("application/x-www-form-urlencoded"):
                value, guessed = self._value(self._resolve(media))
                if isinstance(value, dict):
                    return ("form", {k: _text(v) for k, v in value.items()}, guessed)
        if body.get("required"):
            op.problems.append(f"a {next(iter(content), 'non-JSON')} body")
        return None

    def _accept(self, operation: dict[str, Any]) -> str | None:
        if self.v2:
            produces = operation.get("produces") or self.spec.get("produces") or []
            return str(produces[0]) if produces else None
        for code, response in (operation.get("responses") or {}).items():
            response = self._resolve(response)
            if str(code).startswith("2") and isinstance(response, dict):
                content = response.get("content") or {}
                if content:
                    return str(next(iter(content)))
        return None

    def _expect(self, operation: dict[str, Any]) -> tuple[Map, str | None] | None:
        codes = [str(c) for c in (operation.get("responses") or {})]
        success = sorted(int(c) for c in codes if re.fullmatch(r"2\d\d", c))
        if success:
            status: Any = success[0] if len(success) == 1 else Seq(inline=True)
            if isinstance(status, Seq):
                for code in success:
                    status.add(code)
            return Map().add("status", status), None
        return None

    def _security(self, operation: dict[str, Any], headers: Map, params: Map, request: Map) -> None:
        requirements = operation.get("security", self.spec.get("security"))
        if not isinstance(requirements, list) or not requirements:
            return
        first = requirements[0] if isinstance(requirements[0], dict) else {}
        schemes = (
            self.spec.get("securityDefinitions")
            if self.v2
            else (self.spec.get("components") or {}).get("securitySchemes")
        ) or {}
        for scheme_name in first:
            scheme = self._resolve(schemes.get(scheme_name))
            if not isinstance(scheme, dict):
                continue
            kind = str(scheme.get("type", "")).lower()
            http = str(scheme.get("scheme", "")).lower()
            if kind == "basic" or (kind == "http" and http == "basic"):
                password = self._secret(f"{scheme_name}_password", f"password of {scheme_name}")
                basic = Map().add("username", "user", "decide: the account's user name")
                request.add("auth", Map().add("basic", basic.add("password", password)))
            elif kind in ("oauth2", "openidconnect") or (kind == "http" and http == "bearer"):
                wish = scheme_name if "token" in scheme_name.lower() else f"{scheme_name}_token"
                token = self._secret(wish, f"bearer token ({scheme_name})")
                request.add("auth", Map().add("bearer", token))
            elif kind == "apikey":
                key = str(scheme.get("name", "api_key"))
                secret = self._secret(scheme_name, f"API key {key} ({scheme_name})")
                if scheme.get("in") == "query":
                    params.add(key, secret)
                elif scheme.get("in") == "header":
                    headers.add(key, secret)
                else:
                    headers.add("Cookie", f"{key}={secret}")

    # -- the scenario ----------------------------------------------------------------------

    def scenario(self) -> ImportedScenario:
        tasks = Seq(inline=False)
        left_out: list[str] = []
        counts = {"imported": 0, "writes": 0, "undecided": 0}
        for path, item in self.spec["paths"].items():
            item = self._resolve(item)
            if not isinstance(item, dict) or not isinstance(path, str):
                continue
            for lower in _ALL_METHODS:
                operation = self._resolve(item.get(lower))
                if not isinstance(operation, dict):
                    continue
                method = lower.upper()
                if method not in _SENT_METHODS:
                    left_out.append(f"{method} {path}: not a method scenarios send")
                    continue
                op = self._operation(path, method, item, operation)
                above = _summary_lines(operation)
                comment = None
                if op.guesses:
                    comment = f"decide: guessed {', '.join(op.guesses)} (no example in the spec)"
                if op.problems:
                    counts["undecided"] += 1
                    tasks.add(
                        op.task,
                        comment,
                        [
                            *above,
                            "Left out: needs a value the spec does "
                            f"not give: {', '.join(op.problems)}",
                        ],
                        commented_out=True,
                    )
                elif method in WRITE_METHODS and not self.include_writes:
                    counts["writes"] += 1
                    tasks.add(
                        op.task,
                        comment,
                        [
                            *above,
                            "Left out: a write operation changes "
                            "data (--include-writes imports them)",
                        ],
                        commented_out=True,
                    )
                else:
                    counts["imported"] += 1
                    if method in WRITE_METHODS:
                        above = [*above, "decide: a write operation; it changes data"]
                    tasks.add(op.task, comment, above)
        if not counts["imported"]:
            raise OpenApiError(
                f"{self.source_file}: no operation could be imported as it is "
                f"({counts['writes']} write operation(s): --include-writes; "
                f"{counts['undecided']} need values the spec does not give)"
            )
        tasks.trailer = [f"Not imported: {line}" for line in left_out]
        info: dict[str, Any] = self.spec.get("info") or {}
        info = info if isinstance(info, dict) else {}
        title = str(info.get("title") or "api")
        user = Map().add("name", "api client").add("tasks", tasks)
        root = Map()
        root.add("name", names.scenario_name(title.lower()))
        root.add(
            "description",
            (f"Imported from {self.source_file} ({title} {info.get('version', '')}".rstrip() + ")"),
        )
        root.add("host", host_value(self.host), f"{self.host_comment}; --host or TARGET_HOST")
        root.add("load", starting_load(), "decide: users, spawn rate and duration")
        root.add(
            "defaults", Map().add("think_time", Map().add("between", Seq().add("1s").add("3s")))
        )
        root.add("users", Seq().add(user))
        root.add("thresholds", thresholds())
        kind = f"Swagger {self.version}" if self.v2 else f"OpenAPI {self.version}"
        summary = [
            f"Imported by `loadkit import openapi {self.source_file}` ({kind}): "
            f"{counts['imported']} operation(s) as tasks;",
            f"  {counts['writes']} write operation(s) and {counts['undecided']} that need values "
            "are written commented out.",
            "Review it before pointing it at a system: lines marked 'decide' need a person.",
        ]
        return ImportedScenario(
            text=document(root, schema_ref=self.schema_ref, summary=summary, secrets=self.secrets),
            secrets=dict(self.secrets),
            notes=[
                f"{counts['imported']} operation(s) imported; {counts['writes']} write and "
                f"{counts['undecided']} undecided left commented out"
            ],
        )


def _header_entry(name: str, value: str) -> Any:
    from loadkit.importers.yaml_writer import Entry

    return Entry(name, literal_text(value))


def _summary_lines(operation: dict[str, Any]) -> list[str]:
    summary = operation.get("summary") or operation.get("description") or ""
    first = str(summary).strip().splitlines()[0] if str(summary).strip() else ""
    return [first[:96]] if first else []


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        import json

        return json.dumps(value)
    return str(value)


def _tree(value: Any) -> Any:
    if isinstance(value, dict):
        tree = Map()
        for key, item in value.items():
            tree.add(str(key), _tree(item))  # keys are sent as written: not escaped
        return tree
    if isinstance(value, list):
        seq = Seq()
        for item in value:
            seq.add(_tree(item))
        return seq
    if isinstance(value, str):
        return literal_text(value)
    return value
