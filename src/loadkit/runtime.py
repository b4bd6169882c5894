"""Helpers that generated locustfiles carry with them.

A generated locustfile must run with plain Locust and travel to workers on its own, so it
cannot import loadkit: `runtime_source` copies the helpers it needs from this file, verbatim,
into the generated code. This module is also importable as is (inside a Locust process) so
the helpers can be tested directly. Keep each helper self-contained apart from the imports
listed in `runtime_source.HELPERS`, and plain: people read them in their locustfiles.
"""

# mypy: ignore-errors
import base64
import importlib.util
import itertools
import logging
import os
import random
import re
from urllib.parse import urlencode

from gevent import ssl
from gevent.event import AsyncResult
from locust import events
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner


def check_status(response, expected):
    """Pass the request only if its status is one of `expected`.

    A connection error (status 0) is left unmarked so Locust reports the error itself.
    """
    if response.status_code == 0:
        return False
    if response.status_code in expected:
        response.success()
        return True
    wanted = " or ".join(str(code) for code in expected)
    response.failure(f"expected status {wanted}, got {response.status_code}")
    return False


def failed(response, message):
    response.failure(message)
    return False


def response_json(response):
    """The response body as JSON, parsed once per response. Raises ValueError."""
    document = getattr(response, "loadkit_json", failed)
    if document is failed:
        document = response.json()
        response.loadkit_json = document
    return document


def json_at(document, path):
    """The value at `path` (keys and list indexes). Raises LookupError or TypeError."""
    for key in path:
        document = document[key]
    return document


def shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def checks_pass(response, checks):
    """Run a step's checks in order. The first that fails marks the request failed with a
    message naming the check and what was found; returns whether all passed."""
    if response.status_code == 0:
        return False  # a connection error: Locust reports it as is
    status_checked = False
    for check in checks:
        kind = check[0]
        if kind == "status":
            status_checked = True
            if response.status_code not in check[1]:
                wanted = " or ".join(str(code) for code in check[1])
                return failed(response, f"expected status {wanted}, got {response.status_code}")
        elif kind == "json" or kind == "json_exists":
            try:
                actual = json_at(response_json(response), check[1])
            except ValueError:
                return failed(response, f"check {check[2]}: response is not JSON")
            except (LookupError, TypeError):
                return failed(response, f"check {check[2]}: not found in response")
            if kind == "json" and actual != check[3]:
                return failed(
                    response, f"check {check[2]} == {shown(check[3])}: got {shown(actual)}"
                )
        elif kind == "contains":
            if check[1] not in (response.text or ""):
                return failed(response, f"check body contains {shown(check[1])}: not found")
        elif kind == "matches":
            if re.search(check[1], response.text or "") is None:
                return failed(response, f"check body matches {shown(check[1])}: no match")
        elif kind == "header":
            actual = response.headers.get(check[1]) if response.headers else None
            if actual != check[2]:
                return failed(
                    response, f"check header {check[1]} == {shown(check[2])}: got {shown(actual)}"
                )
        elif kind == "max_ms":
            took = response.request_meta["response_time"]
            if took > check[1]:
                # Two significant digits keep Locust's failures table grouped.
                return failed(
                    response, f"check max_ms {check[1]:g}: took {float(f'{took:.2g}'):g} ms"
                )
    if status_checked:
        response.success()
        return True
    return response.status_code < 400


def capture(response, variables, captures):
    """Store values from the response in the user's variables. A value that is not there
    fails the request with a message naming it; returns whether all were found."""
    if response.status_code == 0:
        return False
    for name, kind, source, label in captures:
        if kind == "json":
            try:
                value = json_at(response_json(response), source)
            except ValueError:
                return failed(response, f"capture {name}: response is not JSON")
            except (LookupError, TypeError):
                return failed(response, f"capture {name}: {label} not found in response")
        elif kind == "regex":
            match = re.search(source, response.text or "")
            if match is None:
                return failed(response, f"capture {name}: {shown(label)} does not match the body")
            value = match.group(1) if match.re.groups else match.group(0)
        else:
            value = response.headers.get(source) if response.headers else None
            if value is None:
                return failed(response, f"capture {name}: no {label} header in response")
        variables[name] = value
    return True


def basic_auth(username, password):
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return "Basic " + token


def form_body(fields):
    return urlencode(fields)


USER_NUMBERS = itertools.count(1)


def next_user_id(user):
    """A number unique to one simulated user for the whole run, also across workers."""
    return user.environment.runner.worker_index * 1_000_000 + next(USER_NUMBERS)


DATA_SOURCES = {}


class DataSource:
    """Rows of test data handed to users.

    sequential: in file order (each process keeps its own place); random: any row, any
    number of times; unique: every row at most once in the whole run. In a distributed run
    the master hands out the row numbers of unique sources, so two workers never get the
    same row. When no row is left: cycle (start again), stop_user, or fail (a failure
    named "data <name>" in the statistics, then the user stops).
    """

    def __init__(self, name, order, on_exhausted, columns, rows):
        self.name = name
        self.order = order
        self.on_exhausted = on_exhausted
        self.columns = columns
        self.rows = rows
        self.next_row = 0
        self.exhaustion_said = False
        DATA_SOURCES[name] = self

    def take(self, user):
        if self.order == "random":
            return dict(zip(self.columns, random.choice(self.rows), strict=True))
        runner = user.environment.runner
        if self.order == "unique" and isinstance(runner, WorkerRunner):
            index = ask_master_for_row(runner, self.name)
        else:
            index = self.allocate()
        if index is None:
            self.exhausted(user)
        return dict(zip(self.columns, self.rows[index], strict=True))

    def allocate(self):
        if self.next_row >= len(self.rows):
            if self.on_exhausted != "cycle":
                self.say_exhausted()
                return None
            self.next_row = 0
        self.next_row += 1
        return self.next_row - 1

    def say_exhausted(self):
        """Once per process, on the `loadkit` logger: `loadkit run` names this as the cause
        when fewer users ran than planned."""
        if not self.exhaustion_said:
            self.exhaustion_said = True
            logging.getLogger("loadkit").warning(
                f"test data {self.name!r} exhausted after {len(self.rows)} rows "
                f"(on_exhausted: {self.on_exhausted})"
            )

    def exhausted(self, user):
        if self.on_exhausted == "fail":
            user.environment.events.request.fire(
                request_type="DATA",
                name=f"data {self.name}",
                response_time=0,
                response_length=0,
                response=None,
                context={},
                exception=LookupError(f"data source {self.name!r} has no rows left"),
            )
        raise StopUser()


ROW_REQUESTS = {}
ROW_TICKETS = itertools.count(1)


def ask_master_for_row(runner, source):
    ticket = next(ROW_TICKETS)
    answer = AsyncResult()
    ROW_REQUESTS[ticket] = answer
    runner.send_message("loadkit_row_request", {"source": source, "ticket": ticket})
    return answer.get(timeout=30)


@events.init.add_listener
def hand_out_rows_from_master(environment, **kwargs):
    runner = environment.runner
    if isinstance(runner, MasterRunner):

        def hand_out(environment, msg, **kwargs):
            index = DATA_SOURCES[msg.data["source"]].allocate()
            reply = {"ticket": msg.data["ticket"], "index": index}
            environment.runner.send_message("loadkit_row", reply, client_id=msg.node_id)

        runner.register_message("loadkit_row_request", hand_out)
    elif isinstance(runner, WorkerRunner):

        def receive(environment, msg, **kwargs):
            ROW_REQUESTS.pop(msg.data["ticket"]).set(msg.data["index"])

        runner.register_message("loadkit_row", receive)


def load_locustfile(path):
    """Import a locustfile by path (for `include:`)."""
    name = os.path.splitext(os.path.basename(path))[0] + "_included"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TLSSettings:
    """The scenario's `tls:` as a FastHttpUser `ssl_context_factory`: geventhttpclient calls
    it for each connection pool, with `cafile=` (the system's CA file) as its argument."""

    def __init__(self, verify, ca_certificates, client_cert, client_key):
        self.verify = verify
        self.ca_certificates = ca_certificates
        self.client_cert = client_cert
        self.client_key = client_key

    def __call__(self, cafile=None):
        if not self.verify:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_certificates is not None:
            # Only the scenario's CAs, as `curl --cacert` and requests' `verify=PATH` do.
            context = ssl.create_default_context(cadata=self.ca_certificates)
        else:
            context = ssl.create_default_context(cafile=cafile)
        if self.client_cert is not None:
            # Read here, on the machine running the users: a private key never enters the
            # locustfile, so every worker needs the files at these paths.
            context.load_cert_chain(self.client_cert, self.client_key)
        return context
