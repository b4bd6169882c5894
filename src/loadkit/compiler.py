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

This module writes the module around the users (imports, the version guard, user classes, the
load shape, the open model's schedules, TLS, embedded data); `compiler_tasks` writes each
user's task methods, `compiler_values` the Python source of the scenario's values.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from loadkit import __version__, locust_compat, locustfile_helpers_source
from loadkit.compiler_tasks import task_method, timed_flow
from loadkit.compiler_values import (
    INDENT,
    RESERVED_NAMES,
    Context,
    auth_header,
    identifier,
    is_static,
    literal,
    text_expr,
)
from loadkit.scenario import Scenario, shapes
from loadkit.scenario.durations import format_duration
from loadkit.scenario.model import UserSpec
from loadkit.scenario.shapes import Stage
from loadkit.scenario.tasks import Auth, Step, ThinkTime
from loadkit.scenario.templates import Var, parse_template

HELPERS_COMMENT = (
    "# Helpers copied from loadkit's locustfile_helpers package: this file needs only Locust."
)


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
    ctx = Context(constants=scenario.variables)
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
            if class_name in taken_classes or class_name in RESERVED_NAMES:
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


def _json_paths(ctx: Context) -> list[str]:
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


def _data_tables(scenario: Scenario, ctx: Context) -> list[str]:
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


def _tls_settings(scenario: Scenario, ctx: Context) -> list[str]:
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
    class_name: str, think: ThinkTime, open_model: _OpenModel | None, ctx: Context
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


def _tracing(class_names: list[str], ctx: Context) -> list[str]:
    """The end of the file for users with `trace: true`: their compiled requests go through
    TracedClient (the lean path, each request with a traceparent header of its own), and
    what `python:` tasks send through `self.client` through a traced session."""
    if not class_names:
        return []
    ctx.uses("trace_requests")
    comment = "# trace: true: a new W3C traceparent header on each request of these users."
    return ["", "", comment, *(f"trace_requests({name})" for name in class_names)]


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
    ctx: Context,
    tail: list[str],
    open_model: _OpenModel | None = None,
) -> list[str]:
    """`tail` receives what must come after the helpers (the user's schedule)."""
    defaults = scenario.defaults
    headers = {**defaults.headers, **user.headers}
    static = {k: v for k, v in headers.items() if is_static(v, ctx)}
    dynamic = {k: v for k, v in headers.items() if k not in static}
    if user.auth is not None:
        if is_static(user.auth.bearer or "", ctx) and user.auth.basic is None:
            static["Authorization"] = ast.literal_eval(auth_header(user.auth, ctx))
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
            lines += timed_flow(
                user.on_start, user.flow_transaction("on_start"), pad, ctx, user_headers
            )
        if scheduled:
            lines.append(f"{pad}self.schedule.wait(self)  # the first task starts on schedule too")
    if user.on_stop:
        lines += ["", f"{INDENT}def on_stop(self):"]
        lines.append(f"{INDENT * 2}v = self.vars" if needs_vars else f"{INDENT * 2}v = {{}}")
        lines += timed_flow(
            user.on_stop, user.flow_transaction("on_stop"), INDENT * 2, ctx, user_headers
        )

    methods: set[str] = {"on_start", "on_stop"}
    for task in user.tasks:
        lines.append("")
        lines += task_method(task, identifier(task.label, methods), ctx, user_headers, needs_vars)
    return lines


def _user_headers_method(dynamic: Mapping[str, str], auth: Auth | None, ctx: Context) -> list[str]:
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
            expr = auth_header(auth, ctx)
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
