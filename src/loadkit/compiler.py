"""Scenario -> a readable, self-contained Locust locustfile (Python source text).

The output imports only Locust and the standard library (plus what a scenario asks for by
name: `python:` tasks, `include:` locustfiles), so plain `locust -f` runs it and a worker
started with `-f -` receives everything it needs from the master, test data included.
Every value that came from YAML enters the source through `literal()` (a checked `repr`),
never as spliced text; identifiers are derived from names by keeping only [A-Za-z0-9_];
`{{ templates }}` become plain expressions (`'Bearer ' + str(v['token'])`), so nothing is
parsed per request.

A flow, a loop and the on_start/on_stop flows are timed as transactions: their steps go inside
`with Transaction(self, 'file a report') as txn:` (from locustfile_helpers), their pauses become
`txn.pause(...)` (think time is not part of a transaction's time), and a step that ends the
flow (`return`) ends the transaction, failed. Steps outside a transaction are plain requests,
with no extra work per request.
"""

from __future__ import annotations

import ast
import base64
import json
import keyword
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from loadkit import __version__, locust_compat, locustfile_helpers_source
from loadkit.scenario import Scenario, shapes
from loadkit.scenario.durations import format_duration
from loadkit.scenario.model import Auth, Expect, Request, Step, Task, ThinkTime, UserSpec
from loadkit.scenario.shapes import Stage
from loadkit.scenario.templates import Var, parse_json_path, parse_template

INDENT = "    "
HELPERS_COMMENT = (
    "# Helpers copied from loadkit's locustfile_helpers.py: this file needs only Locust."
)
_RESERVED_NAMES = frozenset(
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
    while candidate in taken or candidate in _RESERVED_NAMES:
        candidate, n = f"{base}{n}", n + 1
    taken.add(candidate)
    return candidate


@dataclass
class _Context:
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


def _var_expr(var: Var, ctx: _Context) -> str:
    if var.env:
        ctx.uses("os")
        return f"os.environ[{literal(var.name)}]"
    return f"v[{literal(var.name)}]"


def text_expr(text: str, ctx: _Context, *, raw: bool = False) -> str:
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


def value_expr(value: Any, ctx: _Context) -> str:
    """A JSON value with templates in its strings."""
    if isinstance(value, str):
        return text_expr(value, ctx, raw=True)
    if isinstance(value, dict):
        items = [f"{literal(k)}: {value_expr(v, ctx)}" for k, v in value.items()]
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(value_expr(v, ctx) for v in value) + "]"
    return literal(value)


def _mapping_expr(mapping: Mapping[str, str], ctx: _Context) -> str:
    return "{" + ", ".join(f"{literal(k)}: {text_expr(v, ctx)}" for k, v in mapping.items()) + "}"


def _is_static(text: str, ctx: _Context) -> bool:
    return all(
        isinstance(p, str) or (not p.env and p.name in ctx.constants) for p in parse_template(text)
    )


def _auth_header(auth: Auth, ctx: _Context) -> str:
    if auth.bearer is not None:
        return text_expr("Bearer " + auth.bearer, ctx)
    assert auth.basic is not None
    user, password = auth.basic.username, auth.basic.password
    if _is_static(user, ctx) and _is_static(password, ctx):
        plain = (
            f"{ast.literal_eval(text_expr(user, ctx))}:{ast.literal_eval(text_expr(password, ctx))}"
        )
        return literal("Basic " + base64.b64encode(plain.encode()).decode())
    ctx.uses("basic_auth")
    return f"basic_auth({text_expr(user, ctx)}, {text_expr(password, ctx)})"


# ----------------------------------------------------------------------------------- the module


def user_class_names(scenario: Scenario) -> dict[str, str]:
    """Each user type's Locust class name in the generated code (stable, unique)."""
    taken: set[str] = set()
    return {
        user.name: identifier(user.name, taken, style="camel", suffix="User")
        for user in scenario.users
    }


def compile_scenario(
    scenario: Scenario,
    source_name: str = "scenario.yaml",
    *,
    stages: Sequence[Stage] | None = None,
    arrivals: shapes.Arrivals | None = None,
) -> str:
    """`stages` replaces the scenario's load shape (scaled with --users/--duration), `arrivals`
    its arrival rates (scaled with --arrival-rate/--max-concurrency/--duration)."""
    ctx = _Context(constants=scenario.variables)
    load = scenario.load
    plan = arrivals or load.arrivals_plan()
    pools = (
        shapes.pool_sizes(plan.max_concurrency, [u.weight for u in scenario.users])
        if plan is not None
        else None
    )
    # The users and their tasks come first, helpers and embedded data after them: the classes
    # read those only once users start, when the whole module has been imported.
    body: list[str] = []
    taken_classes: set[str] = set()
    body += _tls_settings(scenario, ctx)

    class_names = user_class_names(scenario)
    taken_classes.update(class_names.values())
    schedules: list[str] = []
    traced: list[str] = []
    for number, user in enumerate(scenario.users):
        body += ["", ""]
        open_model = None
        if plan is not None and pools is not None:
            open_model = _OpenModel(plan, pools[number], sum(pools))
        schedule: list[str] = []
        body += _user_class(scenario, user, class_names[user.name], ctx, schedule, open_model)
        if schedule:
            schedules += ["", *schedule] if schedules else schedule
        if _traced(scenario, user):
            traced.append(class_names[user.name])

    for number, include in enumerate(scenario.include, start=1):
        body += ctx.helper_here("load_locustfile")
        module = f"included_{number}"
        path = (scenario.base_dir / include.locustfile).resolve()
        body += ["", "", f"# Included as they are from {literal(include.locustfile)}."]
        body.append(f"{module} = load_locustfile({literal(str(path))})")
        for class_name in include.users:
            if class_name in taken_classes or class_name in _RESERVED_NAMES:
                raise ValueError(f"included class {class_name} clashes with a generated class name")
            taken_classes.add(class_name)
            body.append(f"{class_name} = {module}.{class_name}")

    planned = load.stage_list()
    # A closed scenario given arrivals (--arrival-rate) gets the pool's shape from `stages`.
    given = stages is not None and (planned is not None or arrivals is not None)
    shape = list(stages) if stages is not None and given else planned
    if shape is not None:
        ctx.uses("LoadTestShape")
        stage_table = [(s.users, s.spawn_rate, s.duration_s) for s in shape]
        scaled = shape != planned or (plan is not None and plan != load.arrivals_plan())
        body += ["", "", *_shape_class(scenario, stage_table, scaled=scaled, arrivals=plan)]

    tail = _json_paths(ctx) + _data_tables(scenario, ctx)
    if schedules:
        comment = "# When iterations start; each schedule attaches itself to its user class."
        tail += ["", "", comment, *schedules]
    tail += _tracing(traced, ctx)
    header = [
        f"# Locust user classes generated by loadkit {__version__} from {literal(source_name)}.",
        "# Edit the scenario and run `loadkit compile`, not this file. Runs with plain Locust "
        f"{locust_compat.oldest_locust_text()} or newer:",
        _run_hint(scenario),
    ]
    helpers = locustfile_helpers_source.helpers_source(ctx.helpers, without=frozenset(ctx.written))
    stdlib_modules = ("importlib", "os", "random", "time")
    wait_functions = {
        name
        for name in ("between", "constant", "constant_pacing")
        if any(f"wait_time = {name}(" in line for line in body)
    }
    locust_names = {n for n in ctx.imports if n not in stdlib_modules} | wait_functions
    first_party = {f"import {n}" for n in ctx.imports if n in stdlib_modules}
    third_party: set[str] = set()
    for line in [*ctx.import_lines, *helpers.extra_imports]:
        if line.startswith("from locust import "):
            locust_names |= set(line.removeprefix("from locust import ").split(", "))
        else:
            module = line.split()[1].split(".")[0]
            third = module in ("locust", "gevent", "geventhttpclient")
            (third_party if third else first_party).add(
                line
            )
    third_party.add(
        "from locust import " + ", ".join(["FastHttpUser", *sorted(locust_names), "task"])
    )
    third_party.add("import locust")  # its version, checked by the guard below
    out = [*header]
    if first_party:
        out += [*sorted(first_party), ""]
    out += sorted(third_party, key=lambda line: (line.split()[1], line))
    out += locust_compat.version_guard()
    out += ["", f"SCENARIO_NAME = {literal(scenario.name)}"]
    out += body
    if helpers.code:
        out += ["", "", HELPERS_COMMENT]
        out += ["", "", helpers.code]
    out += tail
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def _json_paths(ctx: _Context) -> list[str]:
    if not ctx.json_paths:
        return []
    return [
        "",
        "",
        "# The JSON paths of the checks and captures, parsed once: path -> keys and list indexes.",
        f"{locustfile_helpers_source.JSON_PATHS} = {{",
        *(f"{INDENT}{literal(path)}: {literal(keys)}," for path, keys in ctx.json_paths.items()),
        "}",
    ]


def _data_tables(scenario: Scenario, ctx: _Context) -> list[str]:
    """The test data, embedded so that workers receive it with the locustfile."""
    lines: list[str] = []
    for name, spec in scenario.data.items():
        table = scenario.tables[name]
        ctx.uses("DataSource")
        if not lines:
            lines += ["", "", "# Test data, embedded so that workers receive it with this file."]
        else:
            lines.append("")
        lines += [
            f"DATA_{name.upper()} = DataSource(",
            f"{INDENT}{literal(name)},",
            f"{INDENT}order={literal(spec.order)},",
            f"{INDENT}on_exhausted={literal(spec.exhausted_action)},",
            f"{INDENT}columns={literal(table.columns)},",
            *_data_rows(table.rows),
            ")",
        ]
    return lines


TEXT_ROWS = 1000
"""Tables with more rows are embedded as one JSON text, parsed at import: as tuple literals,
200,000 rows (an 8 MB CSV) took Python 700 MB and 5 s to import; as JSON text, see
`_data_rows`."""


def _data_rows(rows: Sequence[Sequence[object]]) -> list[str]:
    """A table's rows: one tuple literal per line to read, or for a large table one JSON text
    (a single string constant, which Python compiles at no cost)."""
    if len(rows) <= TEXT_ROWS:
        return [
            f"{INDENT}rows=(",
            *(f"{INDENT * 2}{literal(row)}," for row in rows),
            f"{INDENT}),",
        ]
    text = json.dumps([list(row) for row in rows], ensure_ascii=False, separators=(",", ":"))
    return [f"{INDENT}rows={literal(text)},  # {len(rows):,} rows as one JSON text"]


def _run_hint(scenario: Scenario) -> str:
    load = scenario.load
    if load.stage_list() is not None:
        return "#   locust -f THIS_FILE --headless      (the load shape below sets users and time)"
    return (
        f"#   locust -f THIS_FILE --headless -u {load.users} -r {load.spawn_rate:g} "
        f"-t {format_duration(load.total_duration)}"
    )


def _shape_class(
    scenario: Scenario,
    stages: list[tuple[int, float, float]],
    *,
    scaled: bool = False,
    arrivals: shapes.Arrivals | None = None,
) -> list[str]:
    load = scenario.load
    if arrivals is not None:
        what = (
            f"arrival rates: {arrivals.max_concurrency} users ready for "
            f"{format_duration(arrivals.duration_s)}"
        )
    elif load.step is not None:
        st = load.step
        what = (
            f"step: {st.start} users, +{st.step} every {format_duration(st.every)} up to {st.until}"
        )
    elif load.spike is not None:
        what = f"spike: {load.spike.users} users, {load.spike.peak} at the peak"
    else:
        what = f"{len(stages)} stages"
    if scaled:
        what += ", scaled from the command line"
    lines = [
        "class LoadShape(LoadTestShape):",
        f'{INDENT}"""The scenario\'s load shape ({what})."""',
        "",
        f"{INDENT}# (users, spawn rate per second, seconds), run one after the other",
        f"{INDENT}stages = (",
        *(f"{INDENT * 2}{literal(s)}," for s in stages),
        f"{INDENT})",
        "",
        f"{INDENT}def tick(self):",
        f"{INDENT * 2}run_time = self.get_run_time()",
        f"{INDENT * 2}end = 0.0",
        f"{INDENT * 2}for users, spawn_rate, seconds in self.stages:",
        f"{INDENT * 3}end += seconds",
        f"{INDENT * 3}if run_time < end:",
        f"{INDENT * 4}return users, spawn_rate",
        f"{INDENT * 2}return None",
    ]
    return lines


def _tls_settings(scenario: Scenario, ctx: _Context) -> list[str]:
    """`TLS_SETTINGS`, when connections need a CA bundle or a client certificate. The CA
    certificates are embedded (public, and workers get them with the locustfile); the client
    certificate and key are read from their paths at run time, so a key is never copied."""
    tls = scenario.tls
    if not tls.needs_context:
        return []
    lines = ctx.helper_here("TLSSettings")
    lines += ["", "", "# The scenario's tls: settings; every user class below connects with them."]
    lines.append("TLS_SETTINGS = TLSSettings(")
    lines.append(f"{INDENT}verify={literal(tls.verify)},")
    pem = scenario.ca_certificates
    if pem is None:
        lines.append(f"{INDENT}ca_certificates=None,")
    else:
        lines.append(f"{INDENT}ca_certificates=(  # from {literal(tls.ca_bundle)}")
        lines += [f"{INDENT * 2}{literal(line)}" for line in pem.splitlines(keepends=True)]
        lines.append(f"{INDENT}),")
    for key in ("client_cert", "client_key"):
        name = getattr(tls, key)
        path = None if name is None else str((scenario.base_dir / name).resolve())
        lines.append(f"{INDENT}{key}={literal(path)},")
    lines.append(")")
    return lines


def _tls_attributes(scenario: Scenario) -> list[str]:
    tls = scenario.tls
    if tls.verify:
        lines = [f"{INDENT}insecure = False  # check TLS certificates (Locust's default does not)"]
    else:
        lines = [f"{INDENT}insecure = True  # tls: {{verify: false}}: any certificate is accepted"]
    if tls.needs_context:
        lines.append(f"{INDENT}ssl_context_factory = TLS_SETTINGS")
    return lines


def _wait_time(think: ThinkTime) -> str:
    if think.between is not None:
        return f"between({literal(think.between[0])}, {literal(think.between[1])})"
    if think.pacing is not None:
        return f"constant_pacing({literal(think.pacing)})"
    return f"constant({literal(think.constant or 0.0)})"


def _needs_vars(scenario: Scenario, user: UserSpec) -> bool:
    if user.data or any(t.data for t in user.tasks):
        return True
    steps = [*user.on_start, *(s for t in user.tasks for s in t.steps()), *user.on_stop]
    if any(s.capture for s in steps):
        return True
    texts = [*scenario.defaults.headers.values(), *user.headers.values()]
    return (
        any("{{" in t for t in texts)
        or any(_step_mentions_vars(s) for s in steps)
        or (
            user.auth is not None
            and "{{"
            in (user.auth.bearer or "")
            + (user.auth.basic.username + user.auth.basic.password if user.auth.basic else "")
        )
    )


def _step_mentions_vars(step: Step) -> bool:
    return "{{" in step.model_dump_json(by_alias=True).replace("{{ env.", "")


@dataclass(frozen=True)
class _OpenModel:
    """One user type's part of the open model: its pool and its share of the arrivals."""

    plan: shapes.Arrivals
    pool: int
    total_pool: int

    @property
    def share(self) -> float:
        return self.pool / self.total_pool


def _schedule(
    class_name: str, think: ThinkTime, open_model: _OpenModel | None, ctx: _Context
) -> tuple[list[str], list[str]]:
    """For a user whose iterations start on a schedule (arrivals, or pacing): the lines of its
    class, and the schedule made at the end of the file (after the helpers it uses), which
    hands each request event how late its iteration started (loadkit's corrected times)."""
    if open_model is None:
        ctx.uses("Pacing")
        head = [
            f"{INDENT}# pacing: an iteration every {format_duration(think.pacing or 0)} on a fixed "
            "schedule (see the end of this file)",
        ]
        return head, [f"Pacing({class_name}, {literal(think.pacing)})"]
    ctx.uses("Arrivals")
    plan = open_model.plan
    share = open_model.share
    stages = tuple((round(s.rate * share, 9), s.duration_s) for s in plan.stages)
    rates = ", then ".join(
        f"{s.rate * share:g}/s for {format_duration(s.duration_s)}" for s in plan.stages
    )
    head = [
        f"{INDENT}fixed_count = {open_model.pool}  # users ready for arrivals, all started first",
        f"{INDENT}# arrivals: {rates} ({plan.spacing}), each starting one task on a free user;",
        f"{INDENT}# the schedule is at the end of this file",
    ]
    tail = [
        "Arrivals(",
        f"{INDENT}{class_name},",
        f"{INDENT}stages={literal(stages)},  # (arrivals/s, seconds), all processes together",
        f"{INDENT}users={open_model.pool},",
        f"{INDENT}spacing={literal(plan.spacing)},",
        f"{INDENT}max_backlog={max(1, round(plan.max_backlog * share))},",
        ")",
    ]
    return head, tail


def _traced(scenario: Scenario, user: UserSpec) -> bool:
    """`trace:` of the user, else the scenario's."""
    return scenario.trace if user.trace is None else user.trace


def _tracing(class_names: list[str], ctx: _Context) -> list[str]:
    """The end of the file for users with `trace: true`: their requests go through
    TracedClient (the lean path, each request with a traceparent header of its own)."""
    if not class_names:
        return []
    ctx.uses("TracedClient")
    comment = "# trace: true: a new W3C traceparent header on each request of these users."
    return ["", "", comment, *(f"{name}.lean_client_kind = TracedClient" for name in class_names)]


def _schedule_methods() -> list[str]:
    return [
        "",
        f"{INDENT}def wait_time(self):",
        f"{INDENT * 2}return self.schedule.wait(self)  # until this user's next start",
        "",
        f"{INDENT}def context(self):",
        f"{INDENT * 2}return self.schedule.begin(self)  # on each request: how late its "
        "iteration started",
    ]


def _user_class(
    scenario: Scenario,
    user: UserSpec,
    class_name: str,
    ctx: _Context,
    tail: list[str],
    open_model: _OpenModel | None = None,
) -> list[str]:
    """`tail` receives what must come after the helpers (the user's schedule)."""
    defaults = scenario.defaults
    headers = {**defaults.headers, **user.headers}
    static = {k: v for k, v in headers.items() if _is_static(v, ctx)}
    dynamic = {k: v for k, v in headers.items() if k not in static}
    if user.auth is not None:
        if _is_static(user.auth.bearer or "", ctx) and user.auth.basic is None:
            static["Authorization"] = ast.literal_eval(_auth_header(user.auth, ctx))
        else:
            dynamic["Authorization"] = ""  # filled below from the auth expression
    think = user.think_time or defaults.think_time
    scheduled = open_model is not None or think.pacing is not None
    lines = [f"class {class_name}(FastHttpUser):", f"{INDENT}host = {literal(scenario.host)}"]
    if scheduled:
        head, schedule = _schedule(class_name, think, open_model, ctx)
        lines += head
        tail += schedule
    if _traced(scenario, user):
        lines.append(
            f"{INDENT}# trace: true: a W3C traceparent header on each request (see the end of "
            "this file)"
        )
    if open_model is None:
        lines.append(f"{INDENT}weight = {literal(user.weight)}")
    if not scheduled:
        lines.append(f"{INDENT}wait_time = {_wait_time(think)}")
    lines += [
        f"{INDENT}connection_timeout = {literal(defaults.timeout)}",
        f"{INDENT}network_timeout = {literal(defaults.timeout)}",
        *_tls_attributes(scenario),
    ]
    if static:
        values = {k: ast.literal_eval(text_expr(v, ctx)) for k, v in static.items()}
        lines.append(f"{INDENT}default_headers = {literal(values)}")
    user_auth = user.auth if "Authorization" in dynamic else None
    needs_vars = _needs_vars(scenario, user) or bool(dynamic)
    user_headers = bool(dynamic)
    if scheduled:
        lines += _schedule_methods()
    if dynamic:
        lines += ["", *_user_headers_method(dynamic, user_auth, ctx)]

    if needs_vars or user.on_start or scheduled:
        lines += ["", f"{INDENT}def on_start(self):"]
        pad = INDENT * 2
        if needs_vars:
            ctx.uses("next_user_id")
            lines.append(f"{pad}self.vars = {{'user_id': next_user_id(self)}}")
            if user.data is not None:
                lines.append(f"{pad}self.vars.update(DATA_{user.data.upper()}.take(self))")
        if user.on_start:
            lines.append(f"{pad}v = self.vars" if needs_vars else f"{pad}v = {{}}")
            lines += _timed_flow(
                user.on_start, user.flow_transaction("on_start"), pad, ctx, user_headers
            )
        if scheduled:
            lines.append(f"{pad}self.schedule.wait(self)  # the first task starts on schedule too")
    if user.on_stop:
        lines += ["", f"{INDENT}def on_stop(self):"]
        lines.append(f"{INDENT * 2}v = self.vars" if needs_vars else f"{INDENT * 2}v = {{}}")
        lines += _timed_flow(
            user.on_stop, user.flow_transaction("on_stop"), INDENT * 2, ctx, user_headers
        )

    methods: set[str] = {"on_start", "on_stop"}
    for task in user.tasks:
        lines.append("")
        lines += _task_method(task, identifier(task.label, methods), ctx, user_headers, needs_vars)
    return lines


def _user_headers_method(dynamic: Mapping[str, str], auth: Auth | None, ctx: _Context) -> list[str]:
    """A method computing the user's templated headers; each is sent once every variable it
    needs has a value (a bearer token only after the login step captured it)."""
    pad = INDENT * 2
    lines = [
        f"{INDENT}def user_headers(self, v):",
        f'{pad}"""Headers for every request of this user, each once its variables have values."""',
        f"{pad}headers = {{}}",
    ]
    for key, text in dynamic.items():
        if key == "Authorization" and auth is not None:
            expr = _auth_header(auth, ctx)
            texts = (
                [auth.bearer or ""]
                if auth.bearer is not None
                else ([auth.basic.username, auth.basic.password] if auth.basic else [])
            )
        else:
            expr, texts = text_expr(text, ctx), [text]
        names = sorted(
            {
                p.name
                for t in texts
                for p in parse_template(t)
                if isinstance(p, Var) and not p.env and p.name not in ctx.constants
            }
        )
        assignment = f"headers[{literal(key)}] = {expr}"
        if names:
            condition = " and ".join(f"{literal(n)} in v" for n in names)
            lines += [f"{pad}if {condition}:", f"{pad}{INDENT}{assignment}"]
        else:
            lines.append(f"{pad}{assignment}")
    lines.append(f"{pad}return headers")
    return lines


def _task_method(task: Task, method_name: str, ctx: _Context, user_headers: bool,
                 needs_vars: bool) -> list[str]:  # fmt: skip
    pad = INDENT * 2
    lines = [f"{INDENT}@task({task.weight})" if task.weight != 1 else f"{INDENT}@task"]
    lines.append(f"{INDENT}def {method_name}(self):")
    if task.python is not None:
        module, function = task.python.split(":")
        ctx.uses("importlib")
        lines.append(f"{pad}getattr(importlib.import_module({literal(module)}), "
                     f"{literal(function)})(self)")  # fmt: skip
        return lines
    body: list[str] = []
    transaction = task.transaction_name()
    inner = pad + INDENT if transaction is not None else pad
    if task.loop is not None:
        body.append(f"{inner}for _ in range({literal(task.loop.count)}):")
    steps = task.steps()
    body += _flow(steps, inner + INDENT if task.loop else inner, ctx, user_headers,
                  in_loop=task.loop is not None, timed=transaction is not None)  # fmt: skip
    if transaction is not None:
        body.insert(0, pad + _transaction_opening(transaction, steps, ctx))
    # `v` (the user's variables) only where the task reads them; a string that merely holds
    # the word v keeps the line, which is harmless.
    if needs_vars and (task.data is not None or any(_MENTIONS_V.search(b) for b in body)):
        lines.append(f"{pad}v = self.vars")
        if task.data is not None:
            lines.append(f"{pad}v.update(DATA_{task.data.upper()}.take(self))")
    return lines + body


_MENTIONS_V = re.compile(r"\bv\b")


def _transaction_opening(name: str, steps: list[Step], ctx: _Context) -> str:
    """`with Transaction(...)`, `as txn` only when a step pauses (`txn.pause`)."""
    ctx.uses("Transaction")
    pauses = any(step.think_time is not None for step in steps)
    return f"with Transaction(self, {literal(name)}){' as txn' if pauses else ''}:"


def _timed_flow(steps: list[Step], transaction: str | None, pad: str, ctx: _Context,
                user_headers: bool) -> list[str]:  # fmt: skip
    """An on_start/on_stop flow, inside its transaction when it is timed as one."""
    if transaction is None:
        return _flow(steps, pad, ctx, user_headers)
    opening = pad + _transaction_opening(transaction, steps, ctx)
    return [opening, *_flow(steps, pad + INDENT, ctx, user_headers, timed=True)]


def _flow(steps: list[Step], pad: str, ctx: _Context, user_headers: bool,
          *, in_loop: bool = False, timed: bool = False) -> list[str]:  # fmt: skip
    """The steps one after the other. A failed check ends the flow before the next step; a
    failed capture also skips the step's pause and the loop's next rounds. `timed`: inside a
    transaction, whose `txn.pause` keeps think time out of its time."""
    lines: list[str] = []
    for index, step in enumerate(steps):
        last = index == len(steps) - 1
        more = in_loop or step.think_time is not None
        lines += _step(step, pad, ctx, user_headers, checks_end_flow=not last,
                       captures_end_flow=not last or more)  # fmt: skip
        if step.think_time is not None:
            lines.append(pad + _pause(step.think_time, ctx, timed=timed))
    return lines


def _pause(think: ThinkTime, ctx: _Context, *, timed: bool = False) -> str:
    sleep = "txn.pause" if timed else "time.sleep"
    if not timed:
        ctx.uses("time")
    if think.between is not None:
        ctx.uses("random")
        low, high = think.between
        return f"{sleep}(random.uniform({literal(low)}, {literal(high)}))"
    return f"{sleep}({literal(think.constant or 0.0)})"


def _request_arguments(request: Request, ctx: _Context, user_headers: bool) -> list[str]:
    url = text_expr(request.url, ctx)
    args = [literal(request.method), url]
    if url != literal(request.stats_name):  # Locust names a request by its url by default
        args.append(f"name={literal(request.stats_name)}")
    if request.params:
        args.append(f"params={_mapping_expr(request.params, ctx)}")
    if request.json_body is not None:
        args.append(f"json={value_expr(request.json_body, ctx)}")
    elif request.body is not None:
        args.append(f"data={text_expr(request.body, ctx)}")
    elif request.form is not None:
        if all(_is_static(v, ctx) for v in request.form.values()):
            form = {k: ast.literal_eval(text_expr(v, ctx)) for k, v in request.form.items()}
            args.append(f"data={literal(urlencode(form))}")
        else:
            ctx.uses("form_body")
            args.append(f"data=form_body({_mapping_expr(request.form, ctx)})")
    header_items: list[str] = ["**self.user_headers(v)"] if user_headers else []
    if request.auth is not None and "Authorization" not in request.headers:
        header_items.append(f"'Authorization': {_auth_header(request.auth, ctx)}")
    if request.form is not None and "Content-Type" not in request.headers:
        header_items.append("'Content-Type': 'application/x-www-form-urlencoded'")
    header_items += [f"{literal(k)}: {text_expr(v, ctx)}" for k, v in request.headers.items()]
    if header_items == ["**self.user_headers(v)"]:
        args.append("headers=self.user_headers(v)")
    elif header_items:
        args.append("headers={" + ", ".join(header_items) + "}")
    return args


def _checks(expect: Expect | None, ctx: _Context) -> list[str]:
    """One helper call per check, in a fixed order: status first, the time last."""
    if expect is None:
        return []
    checks: list[str] = []
    if expect.status is not None:
        checks.append(_helper_call(ctx, "expect_status", *map(literal, expect.status)))
    for path, expected in (expect.json_equals or {}).items():
        checks.append(
            _helper_call(
                ctx,
                "expect_json",
                ctx.json_path(path),
                value_expr(expected, ctx),
                *_template_argument(expected, ctx),
            )
        )
    for path in expect.json_exists or []:
        checks.append(_helper_call(ctx, "expect_json_exists", ctx.json_path(path)))
    if expect.body_contains is not None:
        text = expect.body_contains
        checks.append(
            _helper_call(
                ctx, "expect_body_contains", text_expr(text, ctx), *_template_argument(text, ctx)
            )
        )
    if expect.body_matches is not None:
        checks.append(_helper_call(ctx, "expect_body_matches", literal(expect.body_matches)))
    for name, expected in (expect.headers or {}).items():
        checks.append(
            _helper_call(
                ctx,
                "expect_header",
                literal(name),
                text_expr(expected, ctx),
                *_template_argument(expected, ctx),
            )
        )
    if expect.max_ms is not None:
        ms = round(expect.max_ms * 1000, 3)
        checks.append(
            _helper_call(ctx, "expect_max_ms", literal(int(ms) if ms.is_integer() else ms))
        )
    return checks


def _template_argument(expected: Any, ctx: _Context) -> list[str]:
    """`template=` the expectation as the scenario writes it, when it is filled at run time
    (a captured variable, a data column, the environment, a secret): a failed check names
    it, never the value it had, so no live value reaches the failures table or a report."""
    texts = _strings_in(expected)
    if all(_is_static(text, ctx) for text in texts):
        return []
    written = expected if isinstance(expected, str) else json.dumps(expected, ensure_ascii=False)
    return [f"template={literal(written)}"]


def _strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings_in(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings_in(item)]
    return []


def _captures(step: Step, ctx: _Context) -> list[str]:
    out = []
    for name, spec in step.capture.items():
        if spec.json_path is not None:
            out.append(_helper_call(ctx, "capture_json", "v", literal(name),
                                    ctx.json_path(spec.json_path)))  # fmt: skip
        elif spec.regex is not None:
            out.append(_helper_call(ctx, "capture_regex", "v", literal(name), literal(spec.regex)))
        elif spec.header is not None:
            out.append(
                _helper_call(ctx, "capture_header", "v", literal(name), literal(spec.header))
            )
    return out


def _helper_call(ctx: _Context, helper: str, *args: str) -> str:
    ctx.uses(helper)
    return f"{helper}({', '.join(['response', *args])})"


def _step(step: Step, pad: str, ctx: _Context, user_headers: bool, *,
          checks_end_flow: bool, captures_end_flow: bool) -> list[str]:  # fmt: skip
    args = _request_arguments(step.request, ctx, user_headers)
    checks = _checks(step.expect, ctx)
    captures = _captures(step, ctx)
    ctx.uses("send")  # the lean path: `send(self, ...)` is `self.client.request(...)`, leaner
    if not checks and not captures:
        return _call(pad, "send(", ["self", *args], ")")
    lines = _call(pad, "with send(", ["self", *args, "catch_response=True"],
                  ") as response:")  # fmt: skip
    inner = pad + INDENT
    decides = checks_end_flow or (captures_end_flow and bool(captures))
    tests = list(checks)
    if checks and (decides or captures) and (step.expect is None or step.expect.status is None):
        tests.append("response.ok")  # no status check: Locust's rule, a status below 400
    tests += captures
    if not decides:
        return lines + _chain(inner, "", tests, "")
    return [*lines, *_chain(inner, "if not ", tests, ":"), f"{inner}{INDENT}return"]


def _chain(pad: str, opening: str, tests: list[str], closing: str) -> list[str]:
    """`a and b and c` on one line, or one test a line: the first that fails stops the rest."""
    if len(tests) == 1:
        return [f"{pad}{opening}{tests[0]}{closing}"]
    one_line = f"{pad}{opening}({' and '.join(tests)}){closing}"
    if len(one_line) <= 100:
        return [one_line if opening else f"{pad}{' and '.join(tests)}"]
    first, *rest = tests
    return [
        f"{pad}{opening}(",
        f"{pad}{INDENT}{first}",
        *(f"{pad}{INDENT}and {test}" for test in rest),
        f"{pad}){closing}",
    ]


def _call(pad: str, opening: str, args: Iterable[str], closing: str) -> list[str]:
    items = list(args)
    one_line = f"{pad}{opening}{', '.join(items)}{closing}"
    if len(one_line) <= 100:
        return [one_line]
    return [f"{pad}{opening}", *(f"{pad}{INDENT}{a}," for a in items), f"{pad}{closing}"]
