"""Checks and captures: each takes the response of a `catch_response=True` request and says
whether it passed, marking it failed with what was expected and what was found."""

# mypy: ignore-errors
import re


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
