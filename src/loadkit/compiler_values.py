"""Python source for the scenario's values, for the compiler: `literal()` (a checked `repr`),
identifiers made from names, `{{ template }}` expressions, the Authorization header, and the
`Context` that collects what the generated module needs (imports, helpers, JSON paths)."""

from __future__ import annotations

import ast
import base64
import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loadkit import locustfile_helpers_source
from loadkit.scenario.tasks import Auth
from loadkit.scenario.templates import Var, parse_json_path, parse_template

INDENT = "    "
RESERVED_NAMES = frozenset(
    {"FastHttpUser", "LoadTestShape", "LoadShape", "MasterRunner", "WorkerRunner", "StopUser",
     "User", "HttpUser", "task", "between", "constant", "constant_pacing", "events",
     "SCENARIO_NAME", "GreenletExit", locustfile_helpers_source.JSON_PATHS,
     *locustfile_helpers_source.HELPER_NAMES}
)  # fmt: skip


def literal(value: object) -> str:
    """Python source for a YAML value. Refuses anything whose repr is not a plain literal."""
    text = repr(value)
    try:
        round_trip = ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise ValueError(
            f"cannot embed {type(value).__name__} value {text[:40]} in Python"
        ) from exc
    if round_trip != value:
        raise ValueError(f"value {text[:40]} does not survive embedding in Python")
    return text


def identifier(name: str, taken: set[str], *, style: str = "snake", suffix: str = "") -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)
    if style == "camel":
        base = "".join(w[:1].upper() + w[1:] for w in words) + suffix
    else:
        base = "_".join(w.lower() for w in words)
    if not base or base[0].isdigit() or keyword.iskeyword(base):
        base = ("Scenario" if style == "camel" else "task_") + base
    candidate, n = base, 2
    while candidate in taken or candidate in RESERVED_NAMES:
        candidate, n = f"{base}{n}", n + 1
    taken.add(candidate)
    return candidate


@dataclass
class Context:
    """What the code being generated needs from the module around it."""

    constants: Mapping[str, Any]
    imports: set[str] = field(default_factory=set)
    helpers: set[str] = field(default_factory=set)
    import_lines: set[str] = field(default_factory=set)
    written: set[str] = field(default_factory=set)
    """Helpers already written where the module first calls them while it is imported."""
    json_paths: dict[str, tuple[str | int, ...]] = field(default_factory=dict)

    def uses(self, *names: str) -> None:
        for name in names:
            if name in locustfile_helpers_source.HELPER_NAMES:
                self.helpers.add(name)
            else:
                self.imports.add(name)

    def helper_here(self, name: str) -> list[str]:
        """The source of a helper the module calls while it is imported, written right
        before that call (the other helpers come after the user classes)."""
        self.uses(name)
        source = locustfile_helpers_source.helpers_source({name}, without=frozenset(self.written))
        self.written |= source.names
        self.import_lines.update(source.extra_imports)
        return ["", "", source.code] if source.code else []

    def json_path(self, path: str) -> str:
        """`path` as the json helpers name it; its parsed keys go into JSON_PATHS."""
        self.json_paths.setdefault(path, parse_json_path(path))
        return literal(path)


# ------------------------------------------------------------------------- template expressions


def _var_expr(var: Var, ctx: Context) -> str:
    if var.env:
        ctx.uses("os")
        return f"os.environ[{literal(var.name)}]"
    return f"v[{literal(var.name)}]"


def text_expr(text: str, ctx: Context, *, raw: bool = False) -> str:
    """Source of an expression producing `text` with its templates filled. With `raw`, a
    value that is exactly one `{{ var }}` keeps the variable's type (for JSON bodies)."""
    parts: list[str | Var] = []
    for part in parse_template(text):
        if isinstance(part, Var) and not part.env and part.name in ctx.constants:
            value = ctx.constants[part.name]
            if raw and text.strip() == str(part):
                return literal(value)
            part = str(value) if not isinstance(value, bool) else str(value).lower()
        if isinstance(part, str) and parts and isinstance(parts[-1], str):
            parts[-1] += part
        else:
            parts.append(part)
    if all(isinstance(p, str) for p in parts):
        return literal("".join(p for p in parts if isinstance(p, str)))
    if len(parts) == 1 and isinstance(parts[0], Var):
        expr = _var_expr(parts[0], ctx)
        return expr if raw or parts[0].env else f"str({expr})"
    pieces = [literal(p) if isinstance(p, str) else f"str({_var_expr(p, ctx)})" for p in parts]
    return " + ".join(pieces)


def value_expr(value: Any, ctx: Context) -> str:
    """A JSON value with templates in its strings."""
    if isinstance(value, str):
        return text_expr(value, ctx, raw=True)
    if isinstance(value, dict):
        items = [f"{literal(k)}: {value_expr(v, ctx)}" for k, v in value.items()]
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(value_expr(v, ctx) for v in value) + "]"
    return literal(value)


def mapping_expr(mapping: Mapping[str, str], ctx: Context) -> str:
    return "{" + ", ".join(f"{literal(k)}: {text_expr(v, ctx)}" for k, v in mapping.items()) + "}"


def is_static(text: str, ctx: Context) -> bool:
    return all(
        isinstance(p, str) or (not p.env and p.name in ctx.constants) for p in parse_template(text)
    )


def auth_header(auth: Auth, ctx: Context) -> str:
    if auth.bearer is not None:
        return text_expr("Bearer " + auth.bearer, ctx)
    assert auth.basic is not None
    user, password = auth.basic.username, auth.basic.password
    if is_static(user, ctx) and is_static(password, ctx):
        plain = (
            f"{ast.literal_eval(text_expr(user, ctx))}:{ast.literal_eval(text_expr(password, ctx))}"
        )
        return literal("Basic " + base64.b64encode(plain.encode()).decode())
    ctx.uses("basic_auth")
    return f"basic_auth({text_expr(user, ctx)}, {text_expr(password, ctx)})"
