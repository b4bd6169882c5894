"""Starting a `loadkit run`: the scenario read, the run planned and Locust given its command,
from the run cache when it has an entry for this scenario and these options.

On a hit (`run_cache`) Locust gets its command before pydantic is imported, and the scenario is
validated while Locust starts; the plan is then compared with what Locust was given. On a miss
the scenario is read (every file and variable it uses noted), planned, and the entry written.
The CLI only parses options and calls `start_run`; whether the cache is used, and what a hit or
a miss does, is decided here.

Only the standard library at import: this module runs before Locust has its command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from loadkit.errors import ScenarioError, UsageError

if TYPE_CHECKING:
    from loadkit.launcher import LocustProcess
    from loadkit.run_cache import EarlyStart, Launch, Recording, RunCache
    from loadkit.run_plan import PlannedRun
    from loadkit.run_request import RunRequest
    from loadkit.runner import MetricsEndpoint
    from loadkit.scenario import Scenario

VALIDATE_AFTER_S = 2.0
"""On a cache hit, the scenario is validated once Locust runs, or after this long at most."""
_OBSERVES = re.compile(r"^observe\s*:", re.MULTILINE)
"""A scenario with `observe:` (top level), whose queries are checked before Locust begins."""


def read_scenario(
    path: str,
    environ: Mapping[str, str] | None = None,
    *,
    text: str | None = None,
    allow_unset: bool = False,
) -> tuple[Scenario, str]:
    """The scenario at `path`; `text`: its text, already read. `allow_unset`: variables and
    secrets that are not set are the caller's business (`Scenario.unset`), not problems."""
    from loadkit.scenario import validate_source
    from loadkit.scenario.source import load_yaml, parse_yaml

    source = (
        load_yaml(path, environ, allow_unset=allow_unset)
        if text is None
        else parse_yaml(text, path, environ, allow_unset=allow_unset)
    )
    return validate_source(source, environ), source.text


def read_scenario_to_run(
    path: str,
    host: str | None,
    environ: Mapping[str, str] | None = None,
    *,
    text: str | None = None,
) -> tuple[Scenario, str]:
    """The scenario for a run, which needs every value it reads from the environment (one
    line per variable), except a host's variable when --host replaces the host."""
    from loadkit.scenario import unset

    scenario, read = read_scenario(path, environ, text=text, allow_unset=True)
    problems = unset.problems(scenario.unset, skip=[("host",)] if host is not None else [])
    if problems:
        raise ScenarioError(problems)
    if scenario.unset:  # the host's variable: --host in place of the reader's stand-in
        scenario = scenario.model_copy(update={"host": host})
    return scenario, read


@dataclass(frozen=True)
class StartedRun:
    """A run planned and its Locust begun or ready to begin (`runner.run_locust`)."""

    planned: PlannedRun
    launch: Launch | None
    """What to give Locust; None when it was given its command from the run cache already."""
    warnings: list[str]
    """What the person should know before the run: the run cache's, then the plan's."""


def start_run(
    source_file: str,
    request: RunRequest,
    *,
    locust: LocustProcess,
    metrics: MetricsEndpoint | None,
) -> StartedRun:
    """Read `source_file` and plan the run `request` asks for (checked already on its own; here
    with the scenario's load): from the run cache's entry when it holds one, else read now and
    the entry written. `metrics` is checked once the scenario is read. Whatever fails
    before the run is handed over, a Locust begun from the cache is stopped and its folder
    taken back."""
    from loadkit import run_cache

    early: EarlyStart | None = None
    cache = _run_cache(metrics, request)
    try:
        key_options = request.cache_key()
        hit = cache.lookup(source_file, key_options) if cache is not None else None
        if hit is not None and _OBSERVES.search(hit.text):
            hit = None  # its PromQL is checked before any load: Locust is not begun early
        if hit is not None:
            early = run_cache.start_early(
                hit, locust, out=request.out, reports_dir=request.reports_dir
            )
        if early is not None:
            run_cache.wait_until_running(locust, timeout_s=VALIDATE_AFTER_S)
            # The text Locust runs, even if edited.
            scenario, text = read_scenario_to_run(source_file, request.host, text=early.text)
            store = None
        else:
            found = cache.key_for(source_file, key_options) if cache is not None else None
            with run_cache.recording() as recorded:
                scenario, text = read_scenario_to_run(source_file, request.host, recorded.environ)
            store = _Store(cache, found[0], recorded) if cache and found and (
                found[1] == text.encode("utf-8")  # read again unchanged
            ) else None  # fmt: skip
        if metrics is not None:
            metrics.check()
        observing = check_observe(scenario)
        started = plan_started(
            scenario, text, source_file, request, locust=locust, metrics=metrics, early=early,
            store=store,
        )  # fmt: skip
        return replace(started, warnings=observing + started.warnings)
    except BaseException as exc:
        if early is not None and not early.handed_over:
            early.abandon(locust)
            if isinstance(exc, ScenarioError | UsageError) and cache is not None:
                cache.forget(early.key)  # cannot happen for an entry made by this code
        raise


def check_observe(scenario: Scenario) -> list[str]:
    """The `observe:` queries asked once before any load (`observe.check`): UsageError for
    PromQL Prometheus refuses, a warning when it does not answer."""
    if scenario.observe is None:
        return []
    from loadkit import observe

    return observe.check(scenario.observe)


def plan_started(
    scenario: Scenario,
    text: str,
    source_file: str,
    request: RunRequest,
    *,
    locust: LocustProcess,
    metrics: MetricsEndpoint | None = None,
    early: EarlyStart | None = None,
    store: _Store | None = None,
) -> StartedRun:
    """Plan the run (in the folder of `early`, when Locust was begun from the cache) and say
    what Locust is to be given; `store` writes the cache entry of a run that missed. UsageError
    (every problem) when the request cannot apply to the scenario's load."""
    from loadkit.run_plan import plan_run
    from loadkit.runner import locust_launch

    request.check(scenario.load)
    planned = plan_run(
        scenario, text, source_file, request.overrides(), out=request.out,
        reports_dir=request.reports_dir, folder=early.folder if early is not None else None,
    )  # fmt: skip
    launch = None
    warnings = []
    if early is not None:
        early.handed_over = True
        # What Locust was given must be what this run plans; if not, the entry is wrong and
        # goes (this run already runs it: say so rather than judge it silently).
        if locust_launch(planned, metrics, write=False) != early.launch:
            warnings.append(
                "the run cache held another locustfile for this scenario; this run used it, "
                "the next one will not"
            )
            _forget(early)
    else:
        launch = locust_launch(planned, metrics)
        if store is not None:
            store(planned, launch)
    return StartedRun(planned, launch, warnings + planned.warnings)


class _Store:
    """Writes the cache entry of a run that missed, once it is planned (`run_cache`)."""

    def __init__(self, cache: RunCache, key: str, recorded: Recording) -> None:
        self.cache, self.key, self.recorded = cache, key, recorded

    def __call__(self, planned: PlannedRun, launch: Launch) -> None:
        self.cache.store(
            self.key,
            self.recorded,
            launch.tokenized(planned.folder.path),
            secret_values=planned.scenario.secret_values,
        )


def _forget(early: EarlyStart) -> None:
    from loadkit.run_cache import RunCache, cache_dir

    folder = cache_dir()
    if folder is not None:
        RunCache(folder).forget(early.key)


def _run_cache(metrics: MetricsEndpoint | None, request: RunRequest) -> RunCache | None:
    """The run cache, unless it is off or this run's command holds a value of its own: the
    metrics endpoint names the run folder, and --processes picks a free port each time."""
    from loadkit.run_cache import RunCache, cache_dir

    folder = cache_dir()
    if folder is None or metrics is not None:
        return None
    if request.processes > 1 and request.master_port is None:
        return None
    return RunCache(folder)
