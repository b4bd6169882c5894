"""loadkit's parts of Locust's own web UI (runs inside the Locust process, `loadkit ui`).

Through Locust's extension points only, no fork of its frontend: a **Thresholds** tab (the
scenario's thresholds with their value so far and pass/fail, and Apdex per request, refreshed
with Locust's own statistics poll), a **History** tab (the scenario's recent runs from the
run history with their verdicts, each linking its report), links in the **Download Data** tab
to the report of the test that ended last and to a list of every test's run folder, and, when
the UI listens beyond loopback, a login page (Locust's `--web-login`) checked against
LOADKIT_WEB_USER and LOADKIT_WEB_PASSWORD.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from flask import Response, make_response, redirect, request, send_file, session
from locust.env import Environment

from loadkit.harness_protocol import (
    UI_HISTORY_REPORT,
    WEB_PASSWORD_ENV,
    WEB_USER_ENV,
    UiHistoryRow,
)

THRESHOLDS_TAB = "loadkit-thresholds"
APDEX_TAB = "loadkit-apdex"
HISTORY_TAB = "loadkit-history"
LATEST_REPORT = "/loadkit/reports/latest"
RUNS = "/loadkit/runs"

LiveTables = Callable[[], Mapping[str, Sequence[Any]]]
Finished = Callable[[], list[dict[str, Any]]]
RecentRuns = Callable[[], list[UiHistoryRow]]
BeforeSwarm = Callable[[Mapping[str, str]], None]
"""Called with a POST /swarm's form before Locust's view starts (or changes) the test."""


def install(
    environment: Environment,
    *,
    live: LiveTables,
    finished: Finished,
    before_swarm: BeforeSwarm,
    before_stop: Callable[[], None],
    recent_runs: RecentRuns | None = None,
) -> None:
    web_ui = environment.web_ui
    assert web_ui is not None and web_ui.app is not None
    app = web_ui.app
    # Locust's own views, with loadkit's step first: after the login check (a refused
    # request ends no test), before Locust starts or stops anything.
    _run_first(environment, "locust.swarm", lambda: before_swarm(request.form))
    _run_first(environment, "locust.stop", before_stop)
    web_ui.template_args["extended_tabs"] = [
        {"title": "Thresholds", "key": THRESHOLDS_TAB},
        {"title": "Apdex", "key": APDEX_TAB},
        *([{"title": "History", "key": HISTORY_TAB}] if recent_runs is not None else []),
    ]
    web_ui.template_args["extended_tables"] = [
        {
            "key": THRESHOLDS_TAB,
            "structure": [
                {"key": "threshold", "title": "Threshold"},
                {"key": "value", "title": "Value so far"},
                {"key": "status", "title": "Status"},
            ],
        },
        {
            "key": APDEX_TAB,
            "structure": [
                {"key": "request", "title": "Request"},
                {"key": "apdex", "title": "Apdex"},
                {"key": "rating", "title": "Rating"},
                {"key": "requests", "title": "Requests"},
            ],
        },
        {
            "key": HISTORY_TAB,
            "structure": [
                {"key": "recorded", "title": "Recorded (UTC)"},
                {"key": "run_id", "title": "Run"},
                {"key": "verdict", "title": "Verdict"},
                {"key": "p95", "title": "p95"},
                {"key": "errors", "title": "Errors"},
                {"key": "report", "title": "Report"},
            ],
        },
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": LATEST_REPORT, "title": "loadkit report of the test that ended last"},
        {"href": RUNS, "title": "loadkit run folders of every test (JSON)"},
    ]

    @app.after_request
    def add_live_tables(response: Response) -> Response:
        # Locust's frontend polls /stats/requests every 2 s; its `extended_stats` fill the tabs.
        if request.path != "/stats/requests" or response.status_code != 200:
            return response
        tables = live()
        payload = response.get_json(silent=True) or {}
        payload["extended_stats"] = [
            {"key": THRESHOLDS_TAB, "data": list(tables.get("thresholds", []))},
            {"key": APDEX_TAB, "data": list(tables.get("apdex", []))},
            *(
                [{"key": HISTORY_TAB, "data": list(recent_runs())}]
                if recent_runs is not None
                else []
            ),
        ]
        response.set_data(json.dumps(payload))
        return response

    @app.route(LATEST_REPORT)
    @web_ui.auth_required_if_enabled
    def latest_report() -> Response:
        runs = finished()
        if not runs:
            return make_response("No test has ended yet: start one, then stop it.", 404)
        report = (Path(runs[-1]["folder"]) / "report.html").resolve()
        if not report.is_file():
            return make_response(
                f"The report of {runs[-1]['folder']} is being written; reload in a moment.", 404
            )
        return send_file(report, mimetype="text/html", max_age=0)

    @app.route(f"{UI_HISTORY_REPORT}<run_id>")
    @web_ui.auth_required_if_enabled
    def history_report(run_id: str) -> Any:
        # Only a run the tab lists: the route never serves a path a request names.
        rows = {row["run_id"]: row for row in (recent_runs() if recent_runs else [])}
        row = rows.get(run_id)
        if row is None:
            return make_response(f"No run {run_id} among the scenario's recent runs.", 404)
        if "://" in row["folder"]:
            return redirect(row["folder"])
        report = (Path(row["folder"]) / "report.html").resolve()
        if not report.is_file():
            return make_response(f"{report} is not there any more.", 404)
        return send_file(report, mimetype="text/html", max_age=0)

    @app.route(RUNS)
    @web_ui.auth_required_if_enabled
    def runs() -> Response:
        return make_response(json.dumps(finished()), 200, {"Content-Type": "application/json"})

    if getattr(environment.parsed_options, "web_login", False):
        _install_login(environment)


def _run_first(environment: Environment, endpoint: str, step: Callable[[], None]) -> None:
    web_ui = environment.web_ui
    assert web_ui is not None and web_ui.app is not None
    view = web_ui.app.view_functions.get(endpoint)
    if view is None:  # a Locust whose views are named otherwise: its own behaviour, as is
        return

    @functools.wraps(view)
    def step_then_view(*args: Any, **kwargs: Any) -> Any:
        try:
            step()
        except Exception:  # loadkit's bookkeeping never keeps Locust from starting or stopping
            logging.getLogger("loadkit").exception("loadkit could not note %s", request.path)
        return view(*args, **kwargs)

    web_ui.app.view_functions[endpoint] = web_ui.auth_required_if_enabled(step_then_view)


def _install_login(environment: Environment) -> None:
    """A user name and password from the environment in front of the UI (Locust's login page
    and flask-login; Locust itself leaves the checking to its extensions)."""
    from flask_login import UserMixin, login_user

    web_ui = environment.web_ui
    assert web_ui is not None and web_ui.app is not None
    base = getattr(environment.parsed_options, "web_base_path", "") or ""
    expected_user = os.environ.get(WEB_USER_ENV, "")
    expected_password = os.environ.get(WEB_PASSWORD_ENV, "")
    web_ui.app.secret_key = os.urandom(32)

    class _User(UserMixin):  # type: ignore[misc]
        def __init__(self, user_id: str) -> None:
            self.id = user_id

    @web_ui.login_manager.user_loader
    def load_user(user_id: str) -> _User | None:
        return _User(user_id) if user_id == expected_user else None

    web_ui.auth_args = {"username_password_callback": "/loadkit/login"}

    @web_ui.app.route("/loadkit/login", methods=["POST"])
    def login() -> Any:
        user = str(request.form.get("username", ""))
        password = str(request.form.get("password", ""))
        good_user = hmac.compare_digest(user.encode(), expected_user.encode())
        good_password = hmac.compare_digest(password.encode(), expected_password.encode())
        if expected_user and expected_password and good_user and good_password:
            login_user(_User(user))
            return redirect(base or "/")
        session["auth_error"] = "Invalid user name or password"
        return redirect(f"{base}/login")
