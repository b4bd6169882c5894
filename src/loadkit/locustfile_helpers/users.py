"""What a user needs around its requests: transactions, basic auth and form bodies, user
numbers, test data (handed out by the master in a distributed run), included locustfiles, and
the TLS settings of its connections."""

# mypy: ignore-errors
import base64
import importlib.util
import itertools
import json
import logging
import os
import random
import time
from urllib.parse import urlencode

from gevent import GreenletExit, ssl
from gevent.event import AsyncResult
from locust import events
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

# The request type of a transaction in Locust's statistics (loadkit counts it apart from requests).
TRANSACTION = "TXN"


class Transaction:
    """Times a flow as one unit: `with Transaction(self, 'file a report') as txn:`.

    Its time runs from the start of the block (the first request) to its end (the last
    response), without the pauses made through `txn.pause` (think time between steps). It
    fails when any request or check inside fails, with the first failure's message. It is
    reported as Locust's own `request` event of type TRANSACTION, so Locust's statistics,
    CSVs and web UI show it too. A user stopped inside the block (GreenletExit, StopUser)
    records nothing: the flow did not finish. While the block runs, the user's requests go
    through the transaction's `fire` to Locust's event; outside a block they go straight to it.
    """

    def __init__(self, user, name):
        self.user = user
        self.name = name

    def __enter__(self):
        client = self.user.client
        self.event = client.request_event
        client.request_event = self
        self.failure = None
        self.paused = 0.0
        self.started_at = time.time()
        self.start = time.perf_counter()
        return self

    def fire(self, **request):
        """A request inside the block: remember the first failure, report it as usual."""
        if self.failure is None and request.get("exception"):
            self.failure = request["exception"]
        self.event.fire(**request)

    def pause(self, seconds):
        """Think time between steps: waited, and not counted in the transaction's time."""
        before = time.perf_counter()
        time.sleep(seconds)
        self.paused += time.perf_counter() - before

    def __exit__(self, kind, error, traceback):
        took = time.perf_counter() - self.start - self.paused
        self.user.client.request_event = self.event
        if kind is not None and issubclass(kind, GreenletExit | StopUser):
            return False
        self.event.fire(
            request_type=TRANSACTION,
            name=self.name,
            response_time=took * 1000,
            response_length=0,
            response=None,
            context=self.user.context(),
            exception=self.failure or error,
            start_time=self.started_at,
            url=None,
        )
        return False


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
        # A large table comes as one JSON text (see the compiler): parsed here, it costs a
        # fraction of the memory and time Python takes to compile as many tuple literals.
        self.rows = json.loads(rows) if isinstance(rows, str) else rows
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
