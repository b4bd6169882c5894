"""Checks that span several keys of a valid model: unique names, data and TLS files that
load (inside the scenario's folder, or a folder `files.allow_outside` names), variables every
template can find, thresholds that name a request or user type that exists. Each problem is one
line at the position of the key at fault."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from loadkit.errors import Problem, did_you_mean_among
from loadkit.scenario import certificates, files, observe, templates, unset
from loadkit.scenario.datasets import read_table
from loadkit.scenario.model import Scenario, UserSpec
from loadkit.scenario.source import KeyPath, SourceDocument, format_key_path
from loadkit.scenario.tasks import Auth, Step
from loadkit.scenario.unset import UnsetValue


def problem(source: SourceDocument, path: KeyPath, message: str) -> Problem:
    return Problem(source.locate(path), format_key_path(path), message)


def allowed_folders(scenario: Scenario, source: SourceDocument) -> list[Problem]:
    """Resolve `files.allow_outside`: each must be a folder (relative to the scenario's)."""
    problems = []
    for i, entry in enumerate(scenario.files.allow_outside):
        try:
            folder = files.resolved(scenario.base_dir / entry)
        except (OSError, RuntimeError, ValueError) as exc:  # a loop, a NUL
            problems.append(problem(source, ("files", "allow_outside", i), f"{exc}"))
            continue
        if not files.is_dir(folder):
            problems.append(
                problem(
                    source,
                    ("files", "allow_outside", i),
                    f"{entry!r} resolves to {str(folder)!r}, which is not a folder; "
                    "give a folder (relative to the scenario, or absolute)",
                )
            )
        else:
            scenario._outside_folders.append(folder)
    return problems


def _inside(scenario: Scenario, name: str, what: str) -> Path:
    """The file resolved; ValueError when it is outside every folder it may be in."""
    return files.resolve_inside(scenario.base_dir, name, scenario._outside_folders, what)


def read_data(scenario: Scenario, source: SourceDocument) -> list[Problem]:
    problems = []
    for name, spec in scenario.data.items():
        try:
            path = _inside(scenario, spec.file, f"data file {spec.file!r}")
            scenario._tables[name] = read_table(path, spec.file_format)
        except ValueError as exc:
            problems.append(problem(source, ("data", name, "file"), str(exc)))
    return problems


def read_tls(scenario: Scenario, source: SourceDocument) -> list[Problem]:
    """Read the CA bundle (it is embedded in the locustfile) and check that the client
    certificate and key load, so a bad file is reported before the run, not on every request."""
    tls = scenario.tls
    problems = []
    outside = False
    for key, name in (
        ("ca_bundle", tls.ca_bundle),
        ("client_cert", tls.client_cert),
        ("client_key", tls.client_key),
    ):
        if name is not None:
            try:
                _inside(scenario, name, f"{key} {name!r}")
            except ValueError as exc:
                problems.append(problem(source, ("tls", key), str(exc)))
                outside = True
    if outside:
        return problems
    if tls.ca_bundle is not None:
        try:
            scenario._ca_certificates = certificates.read_ca_bundle(
                scenario.base_dir, tls.ca_bundle
            )
        except ValueError as exc:
            problems.append(problem(source, ("tls", "ca_bundle"), str(exc)))
    if tls.client_cert is not None:
        try:
            certificates.check_client_certificate(
                scenario.base_dir, tls.client_cert, tls.client_key
            )
        except certificates.CertificateFileError as exc:
            problems.append(problem(source, ("tls", exc.key), str(exc)))
    return problems


def _unknown(kind: str, name: str, known: list[str]) -> str:
    hint = did_you_mean_among(name, known, f"{kind} names") or f" (no {kind}s are defined)"
    return f"no {kind} is named '{name}'{hint}"


def cross_checks(
    scenario: Scenario, source: SourceDocument, environ: Mapping[str, str]
) -> list[Problem]:
    problems: list[Problem] = []
    seen_users: dict[str, int] = {}
    for i, user in enumerate(scenario.users):
        if user.name in seen_users:
            problems.append(
                problem(
                    source,
                    ("users", i, "name"),
                    f"user name '{user.name}' is already used by users[{seen_users[user.name]}]; "
                    "names must be unique",
                )
            )
        seen_users.setdefault(user.name, i)
    plan = scenario.load.arrivals_plan()
    if plan is not None and scenario.include:
        problems.append(
            problem(
                source,
                ("include",),
                "included locustfile users cannot take part in arrival rates (the open model "
                "starts the generated users' tasks); use a closed-model load, or write the "
                "users as scenario users with python: tasks",
            )
        )
    if plan is not None and plan.max_concurrency < len(scenario.users):
        problems.append(
            problem(
                source,
                ("load", "max_concurrency"),
                f"max_concurrency {plan.max_concurrency} is less than the "
                f"{len(scenario.users)} user types; each needs at least one user",
            )
        )
    names = scenario.request_names()
    user_names = [u.name for u in scenario.users]
    transactions = scenario.transaction_names()
    for i, threshold in enumerate(scenario.thresholds):
        if threshold.transaction is not None and threshold.transaction not in transactions:
            problems.append(
                problem(
                    source,
                    ("thresholds", i),
                    _unknown("transaction", threshold.transaction, transactions),
                )
            )
        elif threshold.on_transactions and not transactions:
            problems.append(
                problem(
                    source,
                    ("thresholds", i),
                    f"{threshold.metric} counts transactions, and no task is timed as one "
                    "(a flow or a loop is, or a task with transaction: NAME)",
                )
            )
        if threshold.scope is not None and threshold.scope not in names and not scenario.include:
            problems.append(
                problem(source, ("thresholds", i), _unknown("request", threshold.scope, names))
            )
        if threshold.user is not None and threshold.user not in user_names:
            problems.append(
                problem(
                    source, ("thresholds", i), _unknown("user type", threshold.user, user_names)
                )
            )
    problems += [
        problem(source, ("thresholds", i), message)
        for i, message in observe.server_threshold_problems(scenario.observe, scenario.thresholds)
    ]
    for name in scenario.apdex.transactions:
        if name not in transactions:
            problems.append(
                problem(
                    source,
                    ("apdex", "transactions", name),
                    _unknown("transaction", name, transactions),
                )
            )
    for name in scenario.apdex.requests:
        if name not in names and not scenario.include:
            problems.append(
                problem(source, ("apdex", "requests", name), _unknown("request", name, names))
            )
    sources = sorted(scenario.data)
    for i, user in enumerate(scenario.users):
        if user.data is not None and user.data not in scenario.data:
            problems.append(
                problem(source, ("users", i, "data"), _unknown("data source", user.data, sources))
            )
        for j, task in enumerate(user.tasks):
            if task.data is not None and task.data not in scenario.data:
                problems.append(
                    problem(
                        source,
                        ("users", i, "tasks", j, "data"),
                        _unknown("data source", task.data, sources),
                    )
                )
    for i, include in enumerate(scenario.include):
        try:
            _inside(scenario, include.locustfile, f"locustfile {include.locustfile!r}")
        except ValueError as exc:
            problems.append(problem(source, ("include", i, "locustfile"), str(exc)))
            continue
        if not files.is_file(scenario.base_dir / include.locustfile):
            problems.append(
                problem(
                    source,
                    ("include", i, "locustfile"),
                    f"locustfile {include.locustfile!r} not found; "
                    "paths are relative to the scenario",
                )
            )
    problems += _check_templates(scenario, source, environ)
    return problems


def _check_templates(
    scenario: Scenario, source: SourceDocument, environ: Mapping[str, str]
) -> list[Problem]:
    problems: list[Problem] = []
    constants = [*scenario.variables, *templates.BUILTIN_VARIABLES]
    # A `${NAME}` or secret not set reads as `{{ env.NAME }}`: already noted where it was met.
    read_unset = {u.name for u in source.unset}
    missing: list[UnsetValue] = []
    for path, text, extra in _template_fields(scenario):
        try:
            used = templates.template_vars(text)
        except ValueError as exc:
            problems.append(problem(source, path, str(exc)))
            continue
        if not used:
            continue
        user = scenario.users[int(path[1])] if path[0] == "users" else None
        if user is not None and user.data is not None and user.data not in scenario.tables:
            continue  # its data source is already reported; its columns are unknown
        known = [*constants, *(extra or [])]
        if user is not None:
            known += _user_variables(scenario, user)
        for var in used:
            if var.env:
                if (
                    environ.get(var.name) is None
                    and var.name not in read_unset
                    and var.name not in scenario._secret_values
                ):
                    missing.append(
                        UnsetValue(
                            var.name, False, source.locate(path), format_key_path(path), path,
                            template=True,
                        )
                    )  # fmt: skip
            elif var.name not in known:
                problems.append(
                    problem(source, path, _unknown("variable", var.name, sorted(set(known))))
                )
    if source.allow_unset:  # read at run time: the command decides
        source.unset += missing
    else:  # one line per variable, not per use
        problems += unset.problems(missing)
    return problems


def _user_variables(scenario: Scenario, user: UserSpec) -> list[str]:
    names: list[str] = []
    if user.data is not None and user.data in scenario.tables:
        names += scenario.tables[user.data].columns
    steps = [*user.on_start, *(s for t in user.tasks for s in t.steps()), *user.on_stop]
    for step in steps:
        names += step.capture
    return names


def _template_fields(scenario: Scenario) -> Iterator[tuple[KeyPath, str, list[str] | None]]:
    """Every text that may hold `{{ }}`: (key path, text, variables only that place knows)."""
    for key, value in scenario.defaults.headers.items():
        yield ("defaults", "headers", key), value, None
    for i, user in enumerate(scenario.users):
        base: KeyPath = ("users", i)
        for key, value in user.headers.items():
            yield (*base, "headers", key), value, None
        if user.auth is not None:
            yield from _auth_fields((*base, "auth"), user.auth, None)
        for where in ("on_start", "on_stop"):
            for k, step in enumerate(getattr(user, where)):
                yield from _step_fields((*base, where, k), step, None)
        for j, task in enumerate(user.tasks):
            extra = None
            if task.data is not None:
                if task.data not in scenario.tables:
                    continue  # reported as an unknown or unreadable data source
                extra = list(scenario.tables[task.data].columns)
            tpath: KeyPath = (*base, "tasks", j)
            if task.flow is not None:
                for k, step in enumerate(task.flow):
                    yield from _step_fields((*tpath, "flow", k), step, extra)
            elif task.request is not None:
                yield from _step_fields(tpath, task.steps()[0], extra)


def _auth_fields(
    path: KeyPath, auth: Auth, extra: list[str] | None
) -> Iterator[tuple[KeyPath, str, list[str] | None]]:
    if auth.bearer is not None:
        yield (*path, "bearer"), auth.bearer, extra
    if auth.basic is not None:
        yield (*path, "basic", "username"), auth.basic.username, extra
        yield (*path, "basic", "password"), auth.basic.password, extra


def _step_fields(
    path: KeyPath, step: Step, extra: list[str] | None
) -> Iterator[tuple[KeyPath, str, list[str] | None]]:
    request = step.request
    rpath: KeyPath = (*path, "request")
    yield (*rpath, "url"), request.url, extra
    for group in ("params", "headers", "form"):
        for key, value in (getattr(request, group) or {}).items():
            yield (*rpath, group, key), value, extra
    if request.body is not None:
        yield (*rpath, "body"), request.body, extra
    if request.json_body is not None:
        for jpath, text in _json_strings(request.json_body, (*rpath, "json")):
            yield jpath, text, extra
    if request.auth is not None:
        yield from _auth_fields((*rpath, "auth"), request.auth, extra)
    if step.expect is not None:
        epath: KeyPath = (*path, "expect")
        for jpath, text in _json_strings(step.expect.json_equals or {}, (*epath, "json")):
            yield jpath, text, extra
        if step.expect.body_contains is not None:
            yield (*epath, "body_contains"), step.expect.body_contains, extra
        for key, value in (step.expect.headers or {}).items():
            yield (*epath, "headers", key), value, extra


def _json_strings(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _json_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_strings(item, (*path, index))
