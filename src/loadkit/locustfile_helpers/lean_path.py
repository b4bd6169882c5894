"""The lean request path: `send`, a compiled task's `self.client.request(...)` through the
user's own geventhttpclient client, with the statistics Locust's FastHttpSession gives, and the
guard (`LEAN_PATH_NEEDS`) that hands every request to Locust's public API when an internal it
uses is not there."""

# mypy: ignore-errors
import errno
import json
import logging
import random
import time

import locust
from gevent import GreenletExit
from geventhttpclient._parser import HTTPParseError
from geventhttpclient.client import IDEMPOTENT_METHODS
from geventhttpclient.response import HTTPConnectionClosed, HTTPSocketPoolResponse
from geventhttpclient.url import URL
from geventhttpclient.useragent import RetriesExceeded
from locust.contrib.fasthttp import (
    FAILURE_EXCEPTIONS,
    ErrorResponse,
    FastResponse,
    absolute_http_url_regexp,
)
from locust.exception import CatchResponseError, LocustError, ResponseError


# The lean request path. A compiled task says in its source what it sends, so it can skip what
# FastHttpSession.request does for any call a person might write: joining URLs, merging
# headers, parsing the same URL again, copying each response into a context manager. `send`
# sends the request through the user's own geventhttpclient client (`self.client.client`: the
# same connections, timeouts, TLS settings and cookie jar) and fires Locust's `request` event
# once, with the fields, exceptions and failure messages FastHttpSession gives it. What it
# does not do itself it hands to Locust's session unchanged: a request while the user holds
# cookies, a redirect to follow, retries (a user class that sets max_retries).
def send(user, method, url, name=None, headers=None, data=None, json=None, params=None,
         catch_response=False):  # fmt: skip
    """`self.client.request(...)` for a compiled task, with the same arguments and the same
    statistics. With `catch_response=True` the response is a context manager whose
    `success()` and `failure(message)` decide the outcome, as Locust's is."""
    try:
        lean = user.lean_client
    except AttributeError:  # its first request: the client it keeps (`trace: true` names one)
        lean = user.lean_client = getattr(user, "lean_client_kind", LeanClient).of(user)
    if lean is None:  # this Locust lacks an internal the lean path needs: its public API
        return user.client.request(method, url, name=name, headers=headers, data=data,
                                   json=json, params=params, catch_response=catch_response)
    return lean.request(method, url, name, headers, data, json, params, catch_response)


# What the lean path uses of Locust's FastHttpSession and of geventhttpclient beyond their
# public API, by object: checked on a process's first user, before its first request. A Locust
# or geventhttpclient release that renamed or removed one of them must still run the file, so
# `send` then hands every request to the user's `self.client.request` (Locust's own code, the
# same statistics, only slower) and says once why, on the `loadkit` logger.
LEAN_PATH_NEEDS = {
    "FastHttpSession": ("base_url", "auth_header", "request_event", "_send_request_safe_mode"),
    "UserAgent": (
        "cookiejar", "max_retries", "default_headers", "clientpool", "request_type",
        "max_redirects", "redirect_response_codes", "_handle_error", "_handle_retries_exceeded",
        "_verify_status", "_conversation_str", "_urlopen", "_may_retry", "_make_request",
    ),
    "HTTPClient": ("_build_request", "_connection_pool", "headers_type", "default_headers",
                   "block_size", "use_proxy", "version", "request"),
}  # fmt: skip
LEAN_PATH = {"checked": False, "works": False}


def lean_path_works(user):
    """Whether this process's Locust has every internal the lean path needs (decided once)."""
    if LEAN_PATH["checked"]:
        return LEAN_PATH["works"]
    missing = []
    session = user.client
    agent = getattr(session, "client", None)
    objects = {"FastHttpSession": session, "UserAgent": agent}
    try:  # the client the user's first request to its host will use (no connection yet)
        objects["HTTPClient"] = agent.clientpool.get_client(URL(session.base_url))
    except Exception:  # no host, or not the client pool we know
        missing.append("UserAgent.clientpool.get_client")
    for kind, names in LEAN_PATH_NEEDS.items():
        if kind in objects:
            missing += [f"{kind}.{name}" for name in names if not hasattr(objects[kind], name)]
    LEAN_PATH.update(checked=True, works=not missing)
    if missing:
        logging.getLogger("loadkit").warning(
            "the lean request path is off (this Locust %s lacks %s): requests go through "
            "self.client.request, which costs more CPU per request",
            getattr(locust, "__version__", "?"), ", ".join(missing),
        )  # fmt: skip
    return not missing


class LeanClient:
    """A user's lean path: its FastHttpSession, that session's client, and what each request
    it sent needed once computed (the parsed URL, the merged headers, the request head)."""

    @classmethod
    def of(cls, user):
        """The client `send` keeps for `user`; None when this Locust lacks an internal the
        lean path needs."""
        return cls(user) if lean_path_works(user) else None

    def __init__(self, user):
        self.user = user
        self.session = user.client
        self.agent = user.client.client
        self.prepared = {}
        self.prepared_kind = Prepared
        # The request event's context; bound here so that a traced client (`trace: true`)
        # can put its own in place without a call more per request for everyone else.
        self.context = user.context

    def request(self, method, url, name, headers, data, json_body, params, catch_response):
        session, agent = self.session, self.agent
        start_time = time.time()
        context = self.context()
        if not name:  # Locust's rename_request (2.44 on)
            name = getattr(session, "request_name", None)
        built_url = url if absolute_http_url_regexp.match(url) else session.base_url + url
        as_json = not data and json_body is not None
        if as_json:
            data = json.dumps(json_body)
        key = (
            method,
            built_url,
            tuple(headers.items()) if headers else (),
            tuple(params.items()) if params else (),
            as_json,
            bool(data),
        )
        prepared = self.prepared.get(key)
        if prepared is None:
            prepared = self.prepare(key, method, built_url, headers, params, as_json, bool(data))
        jar = agent.cookiejar
        start = time.perf_counter()
        if (jar is not None and len(jar._cookies)) or agent.max_retries:
            response = adopt(session._send_request_safe_mode(
                method, built_url, payload=data, headers=dict(prepared.session_headers),
                params=params,
            ))  # fmt: skip
        else:
            response = self.send(prepared, data)
        meta = {
            "request_type": method,
            "name": name or url,
            "context": context,
            "response": response,
            "exception": None,
            "start_time": start_time,
            "url": built_url,
            "response_length": 0,
        }
        # From here on as FastHttpSession.request: the body is read inside the time.
        try:
            meta["response_length"] = len(response.content) if response.content else 0
        except FAILURE_EXCEPTIONS as error:
            meta["response_time"] = (time.perf_counter() - start) * 1000
            meta["exception"] = error
        else:
            meta["response_time"] = (time.perf_counter() - start) * 1000
            try:
                response.raise_for_status()
            except FAILURE_EXCEPTIONS as error:
                meta["exception"] = error
        response.request_event = session.request_event
        if catch_response:
            response.request_meta = meta
        else:
            session.request_event.fire(**meta)
        return response

    def prepare(self, key, method, built_url, headers, params, as_json, has_body):
        if len(self.prepared) >= 500:  # templated URLs or headers (a new token): keep it small
            self.prepared.clear()
        prepared = self.prepared[key] = self.prepared_kind(self, method, built_url, headers,
                                                           params, as_json, has_body)  # fmt: skip
        return prepared

    def send(self, prepared, data):
        """One request on the user's connections, as geventhttpclient's UserAgent.urlopen
        sends it when the cookie jar is empty and no retry is asked for."""
        agent = self.agent
        payload, headers = data, prepared.wire_headers
        if prepared.plain_text:  # what geventhttpclient does to a text body without a type
            payload = data.encode()
            headers = headers.copy()
            headers["content-length"] = str(len(payload))
        try:
            raw = prepared.send(payload, headers)
        except GreenletExit:
            raise
        except BaseException as error:
            request = prepared.failed_request(payload)
            error.request = request
            try:
                agent._handle_error(error, url=prepared.url)  # raises all but a timeout
                agent._handle_retries_exceeded(prepared.url, last_error=error)  # raises
            except FAILURE_EXCEPTIONS as failure:
                return LeanErrorResponse(request, failure)
        response = LeanResponse(raw, sent_request=raw._sent_request)
        headers = response.headers
        if agent.cookiejar is not None and ("set-cookie" in headers or "set-cookie2" in headers):
            response.request = prepared.compat_request(payload)
            agent.cookiejar.extract_cookies(response, response.request)
        status = response.status_code
        try:
            agent._verify_status(status, url=prepared.url)
        except Exception as error:
            # As UserAgent.urlopen: the error keeps the response (read here, before it is
            # released) and FastHttpSession reports it as the request's exception.
            error.response = response
            error.request = response.request or prepared.compat_request(payload)
            error.http_log = agent._conversation_str(prepared.url, response, payload=payload)
            response.release()
            response.error = error
            return response
        location = headers.get("location")
        if agent.max_redirects > 0 and status in agent.redirect_response_codes and location:
            return self.follow(response, prepared, payload, location)
        return response

    def follow(self, response, prepared, payload, location):
        """A redirect: the rest of the chain as UserAgent.urlopen goes through it (cookies,
        max_redirects, the same errors), and FastHttpSession's handling of its errors."""
        request = response.request or prepared.compat_request(payload)
        try:
            return adopt(self.redirects(prepared.url, request, response, location))
        except FAILURE_EXCEPTIONS as error:
            if hasattr(error, "response"):
                error.response.error = error
                return adopt(error.response)
            return LeanErrorResponse(prepared.failed_request(payload), error)

    def redirects(self, url, request, response, location):
        """UserAgent.urlopen's loop from its first response on (that response is a redirect),
        without retries (max_retries is 0 on the lean path)."""
        agent = self.agent
        history = []
        for hop in range(agent.max_redirects + 1):
            if hop:
                if agent.cookiejar is not None:
                    agent.cookiejar.add_cookie_header(request)
                try:
                    response = agent._urlopen(request)
                except GreenletExit:
                    raise
                except BaseException as error:
                    error.request = request
                    last_error = agent._handle_error(error, url=request.url)
                    if not agent._may_retry(request):
                        raise agent._handle_retries_exceeded(url, last_error=last_error) from None
                    break
                if agent.cookiejar is not None:
                    agent.cookiejar.extract_cookies(response, request)
                try:
                    agent._verify_status(response.status_code, url=request.url)
                except Exception as error:
                    error.response, error.request = response, request
                    error.http_log = agent._conversation_str(
                        request.url, response, payload=request.payload
                    )
                    response.release()
                    last_error = agent._handle_error(error, url=request.url)
                    break
                location = response.headers.get("location")
                if not (
                    agent.max_redirects > 0
                    and response.status_code in agent.redirect_response_codes
                    and isinstance(location, str)
                    and location
                ):
                    response._history = history
                    return response
            history.append(response)
            response.release()
            try:
                request.redirect(response.status_code, location)
            except Exception as error:
                last_error = agent._handle_error(error, url=request.url)
                break
        else:
            error = RetriesExceeded(url, f"Redirection limit reached ({agent.max_redirects})")
            last_error = agent._handle_error(error, url=url)
        return agent._handle_retries_exceeded(url, last_error=last_error)


class Prepared:
    """One request as FastHttpSession, geventhttpclient's UserAgent and its HTTPClient would
    build it, computed once: the session's headers (Accept-Encoding, JSON's Content-Type and
    Accept, credentials in the host's URL), the client's defaults under them (User-Agent, the
    class's default_headers), the parsed URL, and the request head HTTPClient would write."""

    def __init__(self, lean, method, url, headers, params, as_json, has_body):
        session, agent = lean.session, lean.agent
        self.agent = agent
        self.method = method
        self.url = url
        self.params = params
        session_headers = dict(headers) if headers else {}
        if session.auth_header:
            session_headers["Authorization"] = session.auth_header
        if "Accept-Encoding" not in session_headers and "accept-encoding" not in session_headers:
            session_headers["Accept-Encoding"] = "gzip, deflate, br"
        if as_json:
            if "Content-Type" not in session_headers and "content-type" not in session_headers:
                session_headers["Content-Type"] = "application/json"
            if "Accept" not in session_headers and "accept" not in session_headers:
                session_headers["Accept"] = "application/json"
        self.session_headers = session_headers
        wire_headers = agent.default_headers.copy()
        wire_headers.update(session_headers)
        self.plain_text = has_body and not wire_headers.get("content-type")
        if self.plain_text:
            wire_headers["content-type"] = "text/plain; charset=utf-8"
        self.wire_headers = wire_headers
        self.split = URL(url, params=params)
        self.uri = getattr(self.split, "quoted_uri", self.split.request_uri)
        self.client = agent.clientpool.get_client(self.split)
        self.pool = self.client._connection_pool
        self.upper = method.upper()
        # The head as HTTPClient._build_request writes it (checked by it, once), with its
        # Content-Length, the last line, left to each request. Anything unusual (a proxy, a
        # chunked or 100-continue request, a text body's own length) goes through HTTPClient.
        self.head = None
        merged = self.client.headers_type()
        merged.update(self.client.default_headers)
        merged.update(wire_headers)
        if not (self.client.use_proxy or self.plain_text or self.client.version != "HTTP/1.1"
                or "transfer-encoding" in merged or "expect" in merged):  # fmt: skip
            head = self.client._build_request(self.upper, self.uri, body=b"", headers=wire_headers,
                                              chunked=False)  # fmt: skip
            self.sized = "content-length" not in merged
            zero = "Content-Length: 0\r\n\r\n"
            self.empty_head = head
            self.head = head[: -len(zero)] if head.endswith(zero) else head[:-2]

    def send(self, payload, headers):
        if self.head is None:
            return self.client.request(self.method, self.uri, body=payload, headers=headers)
        if payload:
            body = payload.encode("utf-8") if isinstance(payload, str) else payload
            head = self.empty_head
            if self.sized:
                head = self.head + f"Content-Length: {len(body)}\r\n\r\n"
        else:
            body, head = b"", self.empty_head
        request = head.encode("latin-1")
        # HTTPClient.request for a body of known length: one write; a connection the server
        # closed is retried (idempotent methods only), a response sent early is read.
        pool = self.pool
        attempts_left = pool.size + 1
        while True:
            sock = pool.get_socket()
            try:
                sock.sendall(request + body if body else request)
            except OSError as error:  # gevent's socket.error
                if error.errno not in (errno.ECONNRESET, errno.EPIPE):
                    pool.release_socket(sock)
                    raise
                try:
                    response = self.read_response(sock)
                except (OSError, HTTPParseError):
                    if attempts_left > 0 and self.upper in IDEMPOTENT_METHODS:
                        attempts_left -= 1
                        continue
                    raise
                response._sent_request = head
                return response
            try:
                response = self.read_response(sock)
            except HTTPConnectionClosed:
                if attempts_left > 0 and self.upper in IDEMPOTENT_METHODS:
                    attempts_left -= 1
                    continue
                raise
            response._sent_request = head
            return response

    def read_response(self, sock):
        client = self.client
        return HTTPSocketPoolResponse(
            sock, self.pool, block_size=client.block_size, method=self.upper,
            headers_type=client.headers_type,
        )  # fmt: skip

    def failed_request(self, payload):
        """The request as geventhttpclient's UserAgent makes it for a request that got no
        response (what Locust's ErrorResponse and the exception carry)."""
        return self.agent._make_request(
            self.url, method=self.method, headers=dict(self.session_headers), payload=payload,
            params=self.params,
        )  # fmt: skip

    def compat_request(self, payload):
        """The request as geventhttpclient's UserAgent would hold it (for the cookie jar and
        for the exception of a bad status)."""
        headers = self.wire_headers.copy()
        return self.agent.request_type(self.split, self.method, headers, payload)


class LeanResponse(FastResponse):
    """Locust's FastResponse that is also its own `catch_response` context manager: the
    outcome rules of Locust's ResponseContextManager, without copying the response."""

    request_meta = None
    manual_result = None

    def __enter__(self):
        if self.request_meta is None:
            raise LocustError("In order to use a with-block for requests, you must also pass "
                              "catch_response=True")  # fmt: skip
        return self

    def __exit__(self, kind, error, traceback):
        meta = self.request_meta
        if self.manual_result is not None:
            meta["exception"] = None if self.manual_result is True else self.manual_result
            self.request_event.fire(**meta)
            return kind is None
        if kind is not None:
            if not isinstance(error, ResponseError):
                return False
            meta["exception"] = error
        else:
            try:
                self.raise_for_status()
            except FAILURE_EXCEPTIONS as failure:
                meta["exception"] = failure
        self.request_event.fire(**meta)
        return True

    def success(self):
        if self.request_meta is None:
            super().success()  # raises Locust's error: catch_response=True is needed
        self.manual_result = True

    def failure(self, exc):
        if self.request_meta is None:
            super().failure(exc)
        self.manual_result = exc if isinstance(exc, Exception) else CatchResponseError(exc)


class LeanErrorResponse(LeanResponse, ErrorResponse):
    """No response (a connection error, a timeout): Locust's ErrorResponse, status 0."""


def adopt(response):
    """A response from Locust's session as a LeanResponse (as ResponseContextManager copies it)."""
    kind = LeanErrorResponse if isinstance(response, ErrorResponse) else LeanResponse
    lean = kind.__new__(kind)
    lean.__dict__.update(response.__dict__)
    for slot in ("_cached_content", "_elapsed", "_history", "_request", "_sent_request"):
        if hasattr(response, slot):  # CompatResponse's __slots__, set or not
            setattr(lean, slot, getattr(response, slot))
    return lean


# -- trace: true ----------------------------------------------------------------------------
#
# A user class given to `trace_requests` (the scenario's `trace: true`, at the end of the
# generated file) sends every request with a W3C Trace Context `traceparent` header: a new
# trace per request, so that an APM shows each request as a trace of its own. The same value
# goes on the request event's context (under TRACE_HEADER), where loadkit keeps the slowest
# requests' ids for the report. Other users' requests pay nothing for it.
TRACE_HEADER = "traceparent"


def new_traceparent():
    """`00-<trace id>-<span id>-01`: version 00, a random 16-byte trace id and 8-byte span id
    (never all zeros, which the spec forbids), sampled."""
    trace_id = random.getrandbits(128) or 1
    span_id = random.getrandbits(64) or 1
    return f"00-{trace_id:032x}-{span_id:016x}-01"


def trace_requests(user_class):
    """`trace: true` for `user_class`: its compiled requests go through TracedClient, and
    what its `python:` tasks send through `self.client` through the user's session, traced
    by `trace_session` as each user is made."""
    user_class.lean_client_kind = TracedClient
    untraced_init = user_class.__init__

    def __init__(self, *args, **kwargs):
        untraced_init(self, *args, **kwargs)
        trace_session(self.client)

    user_class.__init__ = __init__


def trace_session(session):
    """A user's Locust session (FastHttpSession or HttpSession) whose every request carries a
    new traceparent, on the wire and in the request event's context. Its get, post... call
    `self.request`, which this instance's attribute now answers. (The lean path never calls
    `session.request`: a compiled request is traced once, by TracedClient.)"""
    untraced_request = session.request

    def request(method, url, *args, headers=None, context=None, **kwargs):
        traceparent = new_traceparent()
        return untraced_request(
            method, url, *args, headers={**(headers or {}), TRACE_HEADER: traceparent},
            context={**(context or {}), TRACE_HEADER: traceparent}, **kwargs,
        )  # fmt: skip

    session.request = request


class TracedClient(LeanClient):
    """The lean path with a new traceparent on each request: made with the request event's
    context (the first thing `request` asks for), sent by TracedPrepared. Where the lean path
    is off, `send` hands the request to the user's session, traced by `trace_session`."""

    context_key = TRACE_HEADER  # how loadkit's harness knows this client (and the key)

    def __init__(self, user):
        super().__init__(user)
        self.traceparent = None
        self.prepared_kind = TracedPrepared
        self.context = self.traced_context

    def traced_context(self):
        self.traceparent = traceparent = new_traceparent()
        return {**self.user.context(), TRACE_HEADER: traceparent}


class TracedPrepared(Prepared):
    """A Prepared request whose headers and request head carry its client's traceparent of
    the moment (the request being sent): everything else is computed once, as Prepared's."""

    def __init__(self, lean, *args):
        self.lean = lean
        super().__init__(lean, *args)

    def traced(self, headers):
        traced = headers.copy()  # of its own type: geventhttpclient's Headers keep their case
        traced[TRACE_HEADER] = self.lean.traceparent
        return traced

    # Prepared sets these four once; read, each has this request's traceparent added.
    @property
    def session_headers(self):
        return self.traced(self.untraced_session_headers)

    @session_headers.setter
    def session_headers(self, value):
        self.untraced_session_headers = value

    @property
    def wire_headers(self):
        return self.traced(self.untraced_wire_headers)

    @wire_headers.setter
    def wire_headers(self, value):
        self.untraced_wire_headers = value

    @property
    def head(self):
        if self.untraced_head is None:
            return None
        return f"{self.untraced_head}{TRACE_HEADER}: {self.lean.traceparent}\r\n"

    @head.setter
    def head(self, value):
        self.untraced_head = value

    @property
    def empty_head(self):  # the head, then what ends it (an empty body's length, a blank line)
        return self.head + self.untraced_empty_head[len(self.untraced_head):]

    @empty_head.setter
    def empty_head(self, value):
        self.untraced_empty_head = value
