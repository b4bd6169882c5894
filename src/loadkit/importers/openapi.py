"""An OpenAPI 3 or Swagger 2.0 description -> a scenario with one task per operation.

`import_openapi(spec, ...)` is a pure function of the parsed description. Values come from
the spec: a parameter's example, default or first enum value; a body from its example or
built from its schema. What the spec does not say is not invented, except a number (a
path's `{n}` becomes 1, with a comment): an operation that needs a string only a person
knows (an id, a name) is written commented out, with the reason, for that person to fill in.

Values given on the command line (`values`: parameter name -> value) come first. An
operation on `/things/{id}` whose id no one gave is chained after the `POST /things` that
creates it, when that POST's documented answer holds the id (`$.id`, `$.data.id`): a flow that
creates, captures the id and then reads (or updates, or deletes) what it created.

Write operations (POST, PUT, PATCH, DELETE) change data: they are written commented out
unless `include_writes`, so nobody points a first scenario at production and deletes
something. A DELETE of what the scenario did not create (a collection such as
`DELETE /buckets`, or a fixed id) destroys data every run: it also needs
`include_destructive`, and says so. `expect.status` is the documented 2xx responses.
Credentials the spec's security schemes ask for become `${secret:NAME}` references. A `$ref`
to another document (or to nothing in this one) is not followed: the output says which.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from loadkit.errors import UsageError, did_you_mean
from loadkit.importers import names
from loadkit.importers.har import json_path
from loadkit.importers.skeleton import (
    DEFAULT_SCHEMA_REF,
    ImportedScenario,
    document,
    host_value,
    starting_load,
    thresholds,
)
from loadkit.importers.yaml_writer import Entry, Map, Seq, literal_text, literal_value
from loadkit.scenario.templates import BUILTIN_VARIABLES

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
    open_path: set[str] = field(default_factory=set)
    """Path parameters whose value neither the spec nor the command line gave."""
    create: _Create | None = None
    """The POST this operation is chained after, when it is."""


@dataclass(frozen=True)
class _Create:
    """A `POST /things` whose answer gives the id a later `/things/{id}` needs."""

    operation: _Operation
    variable: str
    locator: str
    """The JSON path of the id in the POST's answer."""


def _trailing_parameter(path: str) -> str | None:
    found = re.search(r"/\{([^{}/]+)\}/?$", path)
    return found.group(1) if found else None


def import_openapi(
    spec: Any,
    *,
    source_file: str,
    include_writes: bool = False,
    include_destructive: bool = False,
    values: dict[str, str] | None = None,
    served_from: str | None = None,
    schema_ref: str = DEFAULT_SCHEMA_REF,
) -> ImportedScenario:
    """The scenario for a parsed OpenAPI 3.x or Swagger 2.0 document. `values`: parameter
    name -> the value to send (path, query or header parameters). `served_from`: the URL the
    description was read from, which relative server URLs are relative to."""
    if not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
        raise OpenApiError(f"{source_file}: not an OpenAPI description (no paths)")
    version = str(spec.get("openapi") or spec.get("swagger") or "")
    if not (version.startswith("3.") or version.startswith("2.")):
        raise OpenApiError(
            f"{source_file}: neither OpenAPI 3 (openapi: 3.x) nor Swagger 2.0 (swagger: '2.0')"
        )
    importer = _Importer(spec, version, source_file, include_writes, schema_ref, served_from)
    importer.include_destructive = include_destructive
    importer.values = dict(values or {})
    return importer.scenario()


class _Importer:
    def __init__(
        self,
        spec: dict[str, Any],
        version: str,
        source_file: str,
        include_writes: bool,
        schema_ref: str,
        served_from: str | None = None,
    ) -> None:
        self.spec = spec
        self.served_from = served_from
        self.v2 = version.startswith("2.")
        self.version = version
        self.source_file = source_file
        self.include_writes = include_writes
        self.schema_ref = schema_ref
        self.secret_names = names.Names(upper=True)
        self.secrets: dict[str, str] = {}
        self.include_destructive = False
        self.values: dict[str, str] = {}
        self.parameter_names: set[str] = set()
        self.unfollowed: dict[str, str] = {}
        """`$ref`s not followed -> why (outside this document, or pointing nowhere)."""
        self.host, self.base_path, self.host_comment = self._server()

    # -- the document ----------------------------------------------------------------------

    def _resolve(self, node: Any, seen: frozenset[str] = frozenset()) -> Any:
        """`{$ref: '#/components/schemas/X'}` -> X (local references only)."""
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#/"):
                self.unfollowed.setdefault(ref, "outside this document")
                return {}
            if ref in seen:
                return {}
            seen = seen | {ref}
            target: Any = self.spec
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, dict) else None
            if target is None:
                self.unfollowed.setdefault(ref, "nothing in this document is there")
            node = target if target is not None else {}
        return node

    def _server(self) -> tuple[str, str, str]:
        served = urlsplit(self.served_from or "")
        served_origin = f"{served.scheme}://{served.netloc}" if served.netloc else None
        if self.v2:
            host = self.spec.get("host")
            schemes = self.spec.get("schemes") or ["https"]
            base = str(self.spec.get("basePath") or "")
            if isinstance(host, str) and host:
                return f"{schemes[0]}://{host}", base.rstrip("/"), "the spec's host"
            if served_origin is not None:  # Swagger 2.0: the host that serves the description
                return served_origin, base.rstrip("/"), "the host that served the spec"
            return _PLACEHOLDER_HOST, base.rstrip("/"), "decide: the spec names no host"
        servers = self.spec.get("servers") or []
        server = servers[0] if servers and isinstance(servers[0], dict) else {}
        url = str(server.get("url") or "")
        for variable, spec in (server.get("variables") or {}).items():
            if isinstance(spec, dict):
                url = url.replace(f"{{{variable}}}", str(spec.get("default", "")))
        if served_origin is not None and not urlsplit(url).netloc:
            # OpenAPI 3: a relative server URL is relative to where the description is served.
            url = urljoin(self.served_from or "", url or "/")
            parts = urlsplit(url)
            return served_origin, parts.path.rstrip("/"), "the host that served the spec"
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
        self,
        path: str,
        method: str,
        item: dict[str, Any],
        operation: dict[str, Any],
        chained: dict[str, str] | None = None,
    ) -> _Operation:
        """`chained`: path parameter -> the variable a capture fills (`{{ var }}` in the url)."""
        chained = chained or {}
        request = Map()
        if method != "GET":
            request.add("method", method)
        op = _Operation(method, path, Map())
        url = path
        params, headers, form = Map(), Map(), Map()
        body: Any = None
        for param in self._parameters(item, operation):
            name, where = param["name"], param.get("in")
            self.parameter_names.add(name)
            required = bool(param.get("required")) or where == "path"
            if where == "path" and name in chained:
                url = url.replace(f"{{{name}}}", f"{{{{ {chained[name]} }}}}")
                continue
            value, guessed = self._value(param)
            if name in self.values and where in ("path", "query", "header"):
                value, guessed = self.values[name], False  # the person's value comes first
            elif where == "path" and guessed:
                op.open_path.add(name)
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
        for undescribed in re.findall(r"(?<!\{)\{(\w+)\}", url):
            self.parameter_names.add(undescribed)
            if undescribed in self.values:
                value = literal_text(self.values[undescribed])
                url = url.replace(f"{{{undescribed}}}", value)
            elif undescribed in chained:
                url = url.replace(f"{{{undescribed}}}", f"{{{{ {chained[undescribed]} }}}}")
            elif f"{{{undescribed}}}" not in op.problems:
                op.open_path.add(undescribed)
                op.problems.append(f"{{{undescribed}}} (not described)")
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
            request.add("name", literal_value(self.base_path + path))
        task = Map().add("name", literal_value(f"{method} {self.base_path}{path}"))
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

    def _operations(self) -> dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]]:
        """(METHOD, path) -> (path item, operation), in the document's order."""
        found: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
        for path, item in self.spec["paths"].items():
            item = self._resolve(item)
            if not isinstance(item, dict) or not isinstance(path, str):
                continue
            for lower in _ALL_METHODS:
                operation = self._resolve(item.get(lower))
                if isinstance(operation, dict):
                    found[(lower.upper(), path)] = (item, operation)
        return found

    def _chained(
        self,
        op: _Operation,
        item: dict[str, Any],
        operation: dict[str, Any],
        operations: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]],
    ) -> _Operation:
        """`op` again, chained after the POST that creates what its last path parameter
        names, when the spec says where that POST's answer holds the id; else `op`."""
        parameter = _trailing_parameter(op.path)
        if parameter is None or parameter not in op.open_path or op.method == "POST":
            return op
        parent = op.path[: op.path.rindex("/{")]
        if ("POST", parent) not in operations:
            return op
        create_item, create_operation = operations[("POST", parent)]
        locator = self._id_locator(create_operation, parameter)
        if locator is None:
            return op
        wish = parameter if parameter.lower() != "id" else f"{_singular(parent)}_id"
        variable = names.Names(taken=set(BUILTIN_VARIABLES)).name(wish, wish)
        chained = self._operation(op.path, op.method, item, operation, {parameter: variable})
        create = self._operation(parent, "POST", create_item, create_operation)
        chained.problems += [f"{p} (for POST {self.base_path}{parent})" for p in create.problems]
        chained.create = _Create(create, variable, locator)
        return chained

    def _id_locator(self, operation: dict[str, Any], parameter: str) -> str | None:
        """Where the documented 2xx answer holds the id: `$.id`, `$.<parameter>`, or one
        object down (`$.data.id`, as APIs that wrap what they return)."""
        responses = operation.get("responses") or {}
        for code in sorted(str(c) for c in responses if re.fullmatch(r"2\d\d", str(c))):
            response = self._resolve(responses.get(code, responses.get(int(code), {})))
            if not isinstance(response, dict):
                continue
            schema: Any = response.get("schema")
            for mime, media in (response.get("content") or {}).items():
                if "json" in str(mime) and isinstance(media, dict):
                    schema = media.get("schema")
                    break
            found = self._id_in(self._resolve(schema), (parameter, "id"), ())
            if found is not None:
                return found
        return None

    def _id_in(self, schema: Any, wanted: tuple[str, ...], at: tuple[str, ...]) -> str | None:
        properties = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(properties, dict):
            return None
        for name in wanted:
            if name in properties:
                return json_path((*at, name))
        if at:
            return None
        for name, sub in properties.items():
            found = self._id_in(self._resolve(sub), wanted, (*at, str(name)))
            if found is not None:
                return found
        return None

    def _task(self, op: _Operation) -> Map:
        """The operation's task: itself, or a flow that first creates what it works on."""
        if op.create is None:
            return op.task
        create = op.create
        first = Map().add("request", create.operation.task.get("request"))
        with suppress(KeyError):
            first.add("expect", create.operation.task.get("expect"))
        uses = f"the id {op.method} {self.base_path}{op.path} works on"
        first.add("capture", Map().add(create.variable, create.locator, uses))
        second = Map().add("request", op.task.get("request"))
        with suppress(KeyError):
            second.add("expect", op.task.get("expect"))
        task = Map().add("name", op.task.get("name"))
        return task.add("flow", Seq().add(first).add(second))

    def scenario(self) -> ImportedScenario:
        tasks = Seq(inline=False)
        left_out: list[str] = []
        counts = {"imported": 0, "writes": 0, "destructive": 0, "undecided": 0}
        operations = self._operations()
        for (method, path), (item, operation) in operations.items():
            if method not in _SENT_METHODS:
                left_out.append(f"{method} {path}: not a method scenarios send")
                continue
            op = self._operation(path, method, item, operation)
            op = self._chained(op, item, operation, operations)
            above = _summary_lines(operation)
            shown = f"{self.base_path}{path}"
            if op.create is not None:
                made = f"POST {self.base_path}{op.path[: op.path.rindex('/{')]}"
                above.append(f"a flow: {made} creates what {method} {shown} works on")
            comment = None
            if op.guesses:
                comment = f"decide: guessed {', '.join(op.guesses)} (no example in the spec)"
            writes = method in WRITE_METHODS or op.create is not None
            destructive = method == "DELETE" and op.create is None
            reason = None
            if op.problems:
                counts["undecided"] += 1
                reason = f"needs a value the spec does not give: {', '.join(op.problems)}"
                if any(p.startswith("{") for p in op.problems):
                    reason += " (--value NAME=VALUE gives one)"
            elif destructive and not (self.include_writes and self.include_destructive):
                counts["destructive"] += 1
                flags = (
                    "--include-destructive"
                    if self.include_writes
                    else ("--include-writes --include-destructive")
                )
                reason = (
                    f"destructive: deletes what the scenario did not create ({_what(path)}), "
                    f"on every run ({flags} imports it)"
                )
            elif writes and not self.include_writes:
                counts["writes"] += 1
                reason = "a write operation changes data (--include-writes imports them)"
            task = self._task(op)
            if reason is not None:
                tasks.add(task, comment, [*above, f"Left out: {reason}"], commented_out=True)
                continue
            counts["imported"] += 1
            if destructive:
                above.append(
                    f"DESTRUCTIVE: deletes what the scenario did not create ({_what(path)}), "
                    "on every run (--include-destructive)"
                )
            elif writes:
                above.append("decide: a write operation; it changes data")
            tasks.add(task, comment, above)
        self._check_values()
        if not counts["imported"]:
            raise OpenApiError(
                f"{self.source_file}: no operation could be imported as it is "
                f"({counts['writes']} write operation(s): --include-writes; "
                f"{counts['destructive']} destructive: --include-destructive; "
                f"{counts['undecided']} need values the spec does not give: --value NAME=VALUE)"
            )
        tasks.trailer = [f"Not imported: {line}" for line in left_out]
        info: dict[str, Any] = self.spec.get("info") or {}
        info = info if isinstance(info, dict) else {}
        title = str(info.get("title") or "api")
        user = Map().add("name", "api client").add("tasks", tasks)
        root = Map()
        root.add("name", names.scenario_name(title.lower()))
        description = f"Imported from {self.source_file} ({title} {info.get('version', '')}"
        root.add("description", literal_value(description.rstrip() + ")"))
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
            f"  {counts['writes']} write operation(s), {counts['destructive']} destructive and "
            f"{counts['undecided']} that need values are written commented out.",
            "Review it before pointing it at a system: lines marked 'decide' need a person.",
        ]
        unfollowed = [f"$ref {ref} not followed ({why})" for ref, why in self.unfollowed.items()]
        if unfollowed:
            summary.append("Not followed, so what they describe is missing (decide: copy it in):")
            summary += [f"  {line}" for line in unfollowed]
        return ImportedScenario(
            text=document(root, schema_ref=self.schema_ref, summary=summary, secrets=self.secrets),
            secrets=dict(self.secrets),
            notes=[
                f"{counts['imported']} operation(s) imported; {counts['writes']} write, "
                f"{counts['destructive']} destructive and {counts['undecided']} undecided left "
                "commented out",
                *(f"{line}: what it describes is missing" for line in unfollowed),
            ],
        )

    def _check_values(self) -> None:
        for name in self.values:
            if name not in self.parameter_names:
                raise OpenApiError(
                    f"{self.source_file}: --value {name}: no parameter is named so"
                    f"{did_you_mean(name, self.parameter_names)}"
                )


def _what(path: str) -> str:
    return "a fixed id" if _trailing_parameter(path) else "a whole collection"


def _singular(path: str) -> str:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    last = re.sub(r"ies$", "y", last) if last.endswith("ies") else last.removesuffix("s")
    return names.snake(last) or "item"


def _header_entry(name: str, value: str) -> Any:
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
