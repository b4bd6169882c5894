"""Helpers that generated locustfiles carry with them.

A generated locustfile must run with plain Locust and travel to workers on its own, so it
cannot import loadkit: `locustfile_helpers_source` copies the helpers it needs from this file,
verbatim, into the generated code. This module is also importable as is (inside a Locust process) so
the helpers can be tested directly. Keep each helper self-contained apart from the imports
listed in `locustfile_helpers_source.HELPERS`, and plain: people read them in their locustfiles.
"""

# mypy: ignore-errors
import base64
import collections
import errno
import importlib.util
import itertools
import json
import logging
import os
import random
import re
import time
from urllib.parse import urlencode

import gevent
import locust
from gevent import GreenletExit, ssl
from gevent.event import AsyncResult
from geventhttpclient._parser import HTTPParseError
from geventhttpclient.client import IDEMPOTENT_METHODS
from geventhttpclient.response import HTTPConnectionClosed, HTTPSocketPoolResponse
from geventhttpclient.url import URL
from geventhttpclient.useragent import RetriesExceeded
from locust import events
from locust.contrib.fasthttp import (
    FAILURE_EXCEPTIONS,
    ErrorResponse,
    FastResponse,
    absolute_http_url_regexp,
)
from locust.exception import CatchResponseError, LocustError, ResponseError, StopUser
from locust.runners import MasterRunner, WorkerRunner


# Checks and captures take the response of a `catch_response=True` request and return whether
# they passed. Chained with `and`, the first that fails marks the request failed with a message
# saying what was expected and what was found, and the rest do not run. A connection error
# (status 0) is left unmarked: Locust reports the error itself.
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


# JSON path as written in the scenario -> its keys and list indexes, e.g. '$.items[0].id' ->
# ('items', 0, 'id'). The generated locustfile fills it once, when it is imported.
JSON_PATHS = {}


def json_at(document, keys):
    """The value at `keys` (keys and list indexes). Raises LookupError or TypeError."""
    for key in keys:
        document = document[key]
    return document


def shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# A failed check never shows a value that could be a credential (a token, a session id, a
# captured or secret value), and says what it found in few distinct words, so that Locust's
# failures table groups the failures instead of making a row per value.
def found(actual, expected, template):
    """What a failed `==` check found. Against an expectation written as a template (a
    captured variable, a data column, the environment): never the value, only `another
    value`, or its kind when that differs (`a number`, `None`). Against a literal: None,
    True, False, a number or a string of at most 16 characters as they are; a longer string
    by its length, an object or a list by its kind."""
    kind = kind_of(actual)
    if template is not None:
        return "another value" if kind == kind_of(expected) else kind
    if kind == "a number" or (kind == "a string" and len(actual) <= 16):
        return shown(actual)
    return f"a string of {len(actual)} characters" if kind == "a string" else kind


def kind_of(value):
    """A JSON value's kind in words; None, True and False as they are."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an object" if isinstance(value, dict) else "a list"


def expect_status(response, *expected):
    """Pass the request only if its status is one of `expected` (even a 404, if named)."""
    if response.status_code in expected:
        response.success()
        return True
    if response.status_code == 0:
        return False
    wanted = " or ".join(str(code) for code in expected)
    return failed(response, f"expected status {wanted}, got {response.status_code}")


def expect_json(response, path, expected, template=None):
    """`template`: the expectation as the scenario writes it, when it holds templates."""
    if response.status_code == 0:
        return False
    keys = JSON_PATHS[path]
    try:
        actual = json_at(response_json(response), keys)
    except ValueError:
        return failed(response, f"check {path}: response is not JSON")
    except (LookupError, TypeError):
        return failed(response, f"check {path}: not found in response")
    if actual != expected:
        wanted = shown(expected) if template is None else template
        got = found(actual, expected, template)
        return failed(response, f"check {path} == {wanted}: got {got}")
    return True


def expect_json_exists(response, path):
    if response.status_code == 0:
        return False
    keys = JSON_PATHS[path]
    try:
        json_at(response_json(response), keys)
    except ValueError:
        return failed(response, f"check {path}: response is not JSON")
    except (LookupError, TypeError):
        return failed(response, f"check {path}: not found in response")
    return True


def expect_body_contains(response, text, template=None):
    if response.status_code == 0:
        return False
    if text not in (response.text or ""):
        wanted = shown(text) if template is None else template
        return failed(response, f"check body contains {wanted}: not found")
    return True


def expect_body_matches(response, pattern):
    if response.status_code == 0:
        return False
    if re.search(pattern, response.text or "") is None:
        return failed(response, f"check body matches {shown(pattern)}: no match")
    return True


def expect_header(response, name, expected, template=None):
    if response.status_code == 0:
        return False
    actual = response.headers.get(name) if response.headers else None
    if actual != expected:
        wanted = shown(expected) if template is None else template
        got = found(actual, expected, template)
        return failed(response, f"check header {name} == {wanted}: got {got}")
    return True


def expect_max_ms(response, limit):
    if response.status_code == 0:
        return False
    took = response.request_meta["response_time"]
    if took > limit:
        # Two significant digits keep Locust's failures table grouped.
        return failed(response, f"check max_ms {limit:g}: took {float(f'{took:.2g}'):g} ms")
    return True


def capture_json(response, variables, name, path):
    """Store the JSON value at `path` as variable `name`."""
    if response.status_code == 0:
        return False
    keys = JSON_PATHS[path]
    try:
        variables[name] = json_at(response_json(response), keys)
    except ValueError:
        return failed(response, f"capture {name}: response is not JSON")
    except (LookupError, TypeError):
        return failed(response, f"capture {name}: {path} not found in response")
    return True


def capture_regex(response, variables, name, pattern):
    """Store the first match of `pattern` in the body (its group 1, if it has one)."""
    if response.status_code == 0:
        return False
    match = re.search(pattern, response.text or "")
    if match is None:
        return failed(response, f"capture {name}: {shown(pattern)} does not match the body")
    variables[name] = match.group(1) if match.re.groups else match.group(0)
    return True


def capture_header(response, variables, name, header):
    """Store the value of response header `header`."""
    if response.status_code == 0:
        return False
    value = response.headers.get(header) if response.headers else None
    if value is None:
        return failed(response, f"capture {name}: no {header} header in response")
    variables[name] = value
    return True


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
# A user class whose `lean_client_kind` is TracedClient (the scenario's `trace: true`, set at the
# end of the generated file) sends every request with a W3C Trace Context `traceparent` header:
# a new trace per request, so that an APM shows each request as a trace of its own. The same
# value goes on the request event's context (under TRACE_HEADER), where loadkit keeps the
# slowest requests' ids for the report. Other users' requests pay nothing for it.
TRACE_HEADER = "traceparent"


def new_traceparent():
    """`00-<trace id>-<span id>-01`: version 00, a random 16-byte trace id and 8-byte span id
    (never all zeros, which the spec forbids), sampled."""
    trace_id = random.getrandbits(128) or 1
    span_id = random.getrandbits(64) or 1
    return f"00-{trace_id:032x}-{span_id:016x}-01"


class TracedClient(LeanClient):
    """The lean path with a new traceparent on each request: made with the request event's
    context (the first thing `request` asks for), sent by TracedPrepared."""

    context_key = TRACE_HEADER  # how loadkit's harness knows this client (and the key)

    @classmethod
    def of(cls, user):
        return cls(user) if lean_path_works(user) else TracedPublicClient(user)

    def __init__(self, user):
        super().__init__(user)
        self.traceparent = None
        self.prepared_kind = TracedPrepared
        self.context = self.traced_context

    def traced_context(self):
        self.traceparent = traceparent = new_traceparent()
        return {**self.user.context(), TRACE_HEADER: traceparent}


class TracedPublicClient:
    """`trace: true` where the lean path is off: Locust's own `self.client.request`, with the
    header and the same context."""

    def __init__(self, user):
        self.user = user

    def request(self, method, url, name, headers, data, json_body, params, catch_response):
        traceparent = new_traceparent()
        return self.user.client.request(
            method, url, name=name, headers={**(headers or {}), TRACE_HEADER: traceparent},
            data=data, json=json_body, params=params, catch_response=catch_response,
            context={TRACE_HEADER: traceparent},
        )  # fmt: skip


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


# -- scheduled starts: arrival rates (the open model) and pacing ---------------------------
#
# A user whose iterations start on a schedule records how late each one started
# (`start_delay`), and its `context()` puts that on every request event: loadkit then keeps,
# next to each request's service time (from the actual send), its corrected time (service time
# plus the start delay), the time from when the request should have started. A stalled server
# delays the very requests that would have measured the stall; only the corrected time sees
# that wait (coordinated omission, as wrk2 and HdrHistogram correct it).
NO_DELAY = {"start_delay_ms": 0.0}


def start_delay(late_s):
    return {"start_delay_ms": late_s * 1000.0 if late_s > 0 else 0.0}


def sleep_while_waiting(user, seconds):
    """Sleep as Locust's own wait does: a user stopped meanwhile stops at once."""
    if seconds <= 0:
        return
    state = user._state
    user._state = "waiting"  # Locust's LOCUST_STATE_WAITING: stopping kills it right away
    try:
        gevent.sleep(seconds)
    finally:
        user._state = state


class Arrivals:
    """The arrival schedule of one user type (the open model): arrivals come at `stages`
    rates, (arrivals per second, seconds) for the whole test, whether or not the target keeps
    up; each starts one iteration (one weighted task) on a free user of the type's pool.

    A user that finishes its task claims the next arrival and sleeps until it. When every user
    is busy, arrivals wait in a backlog and start late, at once, when a user is free (counted
    as delayed, their lateness in the corrected times); an arrival finding `max_backlog`
    waiting is dropped and counted. Each load-generating process takes its share of the rate:
    the share of the type's `users` it runs. Memory stays bounded by `max_backlog`. It makes
    itself the user class's `schedule`, whose `wait` is the class's wait_time.
    """

    def __init__(self, user_class, stages, users, spacing, max_backlog):
        user_class.schedule = self
        user_class.start_delay = NO_DELAY
        user_class.iteration_due = False
        self.user_class = user_class.__name__
        self.stages = stages
        self.users = users
        self.poisson = spacing == "poisson"
        self.max_backlog = max_backlog
        self.reset()
        events.test_start.add_listener(self.reset)  # each test started in the web UI anew

    def reset(self, **kwargs):
        self.origin = None  # time.perf_counter() of the first arrival
        self.next_at = 0.0  # the next arrival nobody claimed yet, in seconds from the origin
        self.backlog = collections.deque()
        self.share = 1.0
        self.arrived = self.started = self.delayed = self.dropped = self.busy = 0

    def process_share(self, user):
        """This process's share of the rate: 1 on its own, its users' share on a worker."""
        runner = user.environment.runner
        if isinstance(runner, WorkerRunner):
            local = runner.target_user_classes_count.get(self.user_class, 0)
            return min(local / self.users, 1.0) if self.users else 0.0
        return 1.0

    def advance(self):
        """Move `next_at` past one arrival: the stage's rate (this process's share of it),
        evenly spaced or Poisson; over a stage boundary the rest of the gap is taken at the
        next stage's rate (Poisson: drawn afresh, it has no memory). None after the end."""
        t = self.next_at
        need = random.expovariate(1.0) if self.poisson else 1.0  # in arrivals
        stage_start = 0.0
        for rate, seconds in self.stages:
            stage_end = stage_start + seconds
            local = rate * self.share
            if t < stage_end and local > 0:
                # (less a nanosecond: 150 gaps of 1/15 s must not add up to just under 10 s)
                if t + need / local < stage_end - 1e-9:
                    self.next_at = t + need / local
                    return
                need = random.expovariate(1.0) if self.poisson else need - (stage_end - t) * local
            t = max(t, stage_end)
            stage_start = stage_end
        self.next_at = None

    def wait(self, user):
        """Sleep until this user's next arrival (at once for one already due), then let its
        iteration start; returns 0 for Locust's wait_time (the wait is done)."""
        now = time.perf_counter()
        if user.iteration_due:  # an iteration that ran through without a request: it started
            user.iteration_due = False
            self.started += 1
        if getattr(user, "in_iteration", False):
            self.busy -= 1
            user.in_iteration = False
        self.share = self.process_share(user) or self.share
        if self.origin is None:
            self.origin = now
            first_rate = self.stages[0][0] * self.share
            if self.share < 1.0 and first_rate > 0 and not self.poisson:
                # Workers offset their evenly spaced arrivals instead of all starting at 0.
                self.next_at = random.random() / first_rate
        self.queue_due(now)
        if self.backlog:
            intended = self.backlog.popleft()
            self.delayed += 1
        elif self.next_at is not None:
            intended = self.origin + self.next_at
            self.advance()
            sleep_while_waiting(user, intended - now)
            self.arrived += 1  # counted once due, as the ones in the backlog are
        else:
            sleep_while_waiting(user, 3600.0)  # no arrival left: until the run stops
            return 0
        user.start_delay = start_delay(time.perf_counter() - intended)
        # Started once its first request goes out (`begin`), or when it ends without one (the
        # next `wait`): the user may yet stop first (the run ends, its test data runs out), and
        # an iteration it never ran did not start.
        user.iteration_due = True
        return 0

    def begin(self, user):
        """The user's `context()`, on each request: the first one of an iteration starts it.
        Returns how late it started, for the request event."""
        if user.iteration_due:
            user.iteration_due = False
            user.in_iteration = True
            self.started += 1
            self.busy += 1
        return user.start_delay

    def queue_due(self, now):
        """Every arrival due by `now` that no user claimed waits in the backlog (or, when
        `max_backlog` are waiting, is dropped)."""
        if self.origin is None:
            return
        bound = max(1, round(self.max_backlog * self.share))
        while self.next_at is not None and self.origin + self.next_at < now - 1e-9:
            self.arrived += 1
            if len(self.backlog) < bound:
                self.backlog.append(self.origin + self.next_at)
            else:
                self.dropped += 1
            self.advance()

    def counts(self):
        """What loadkit reports: arrivals due so far, started, delayed (started late, from
        the backlog), dropped, waiting now, and users busy in an iteration now."""
        self.queue_due(time.perf_counter())
        return {
            "arrived": self.arrived,
            "started": self.started,
            "delayed": self.delayed,
            "dropped": self.dropped,
            "waiting": len(self.backlog),
            "busy": self.busy,
        }


class Pacing:
    """wait_time of `pacing: S`: an iteration every S seconds per user, on a fixed schedule
    from its first iteration (like a metronome, as wrk2 paces). An iteration that overruns
    makes the next start late, at once; the lateness is its start delay."""

    def __init__(self, user_class, seconds):
        user_class.schedule = self
        user_class.start_delay = NO_DELAY
        self.seconds = seconds

    def begin(self, user):
        """The user's `context()`, on each request: how late its iteration started."""
        return user.start_delay

    def wait(self, user):
        now = time.perf_counter()
        due = getattr(user, "paced_due", None)
        if due is None:  # the end of on_start: the first iteration starts now
            user.paced_due = now + self.seconds
            user.start_delay = NO_DELAY
            return 0
        user.paced_due = due + self.seconds
        sleep_while_waiting(user, due - now)
        user.start_delay = start_delay(time.perf_counter() - due)
        return 0
