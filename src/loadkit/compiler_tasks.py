"""A user's task methods in the generated locustfile: flows of steps, each step's request
through the helpers' `send`, its checks and captures, pauses, and transactions."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from loadkit.compiler_values import (
    INDENT,
    Context,
    auth_header,
    is_static,
    literal,
    mapping_expr,
    text_expr,
    value_expr,
)
from loadkit.scenario.tasks import Expect, Request, Step, Task, ThinkTime


def task_method(task: Task, method_name: str, ctx: Context, user_headers: bool,
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


def _transaction_opening(name: str, steps: list[Step], ctx: Context) -> str:
    """`with Transaction(...)`, `as txn` only when a step pauses (`txn.pause`)."""
    ctx.uses("Transaction")
    pauses = any(step.think_time is not None for step in steps)
    return f"with Transaction(self, {literal(name)}){' as txn' if pauses else ''}:"


def timed_flow(steps: list[Step], transaction: str | None, pad: str, ctx: Context,
                user_headers: bool) -> list[str]:  # fmt: skip
    """An on_start/on_stop flow, inside its transaction when it is timed as one."""
    if transaction is None:
        return _flow(steps, pad, ctx, user_headers)
    opening = pad + _transaction_opening(transaction, steps, ctx)
    return [opening, *_flow(steps, pad + INDENT, ctx, user_headers, timed=True)]


def _flow(steps: list[Step], pad: str, ctx: Context, user_headers: bool,
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


def _pause(think: ThinkTime, ctx: Context, *, timed: bool = False) -> str:
    sleep = "txn.pause" if timed else "time.sleep"
    if not timed:
        ctx.uses("time")
    if think.between is not None:
        ctx.uses("random")
        low, high = think.between
        return f"{sleep}(random.uniform({literal(low)}, {literal(high)}))"
    return f"{sleep}({literal(think.constant or 0.0)})"


def _request_arguments(request: Request, ctx: Context, user_headers: bool) -> list[str]:
    url = text_expr(request.url, ctx)
    args = [literal(request.method), url]
    if url != literal(request.stats_name):  # Locust names a request by its url by default
        args.append(f"name={literal(request.stats_name)}")
    if request.params:
        args.append(f"params={mapping_expr(request.params, ctx)}")
    if request.json_body is not None:
        args.append(f"json={value_expr(request.json_body, ctx)}")
    elif request.body is not None:
        args.append(f"data={text_expr(request.body, ctx)}")
    elif request.form is not None:
        if all(is_static(v, ctx) for v in request.form.values()):
            form = {k: ast.literal_eval(text_expr(v, ctx)) for k, v in request.form.items()}
            args.append(f"data={literal(urlencode(form))}")
        else:
            ctx.uses("form_body")
            args.append(f"data=form_body({mapping_expr(request.form, ctx)})")
    header_items: list[str] = ["**self.user_headers(v)"] if user_headers else []
    if request.auth is not None and "Authorization" not in request.headers:
        header_items.append(f"'Authorization': {auth_header(request.auth, ctx)}")
    if request.form is not None and "Content-Type" not in request.headers:
        header_items.append("'Content-Type': 'application/x-www-form-urlencoded'")
    header_items += [f"{literal(k)}: {text_expr(v, ctx)}" for k, v in request.headers.items()]
    if header_items == ["**self.user_headers(v)"]:
        args.append("headers=self.user_headers(v)")
    elif header_items:
        args.append("headers={" + ", ".join(header_items) + "}")
    return args


def _checks(expect: Expect | None, ctx: Context) -> list[str]:
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


def _template_argument(expected: Any, ctx: Context) -> list[str]:
    """`template=` the expectation as the scenario writes it, when it is filled at run time
    (a captured variable, a data column, the environment, a secret): a failed check names
    it, never the value it had, so no live value reaches the failures table or a report."""
    texts = _strings_in(expected)
    if all(is_static(text, ctx) for text in texts):
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


def _captures(step: Step, ctx: Context) -> list[str]:
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


def _helper_call(ctx: Context, helper: str, *args: str) -> str:
    ctx.uses(helper)
    return f"{helper}({', '.join(['response', *args])})"


def _step(step: Step, pad: str, ctx: Context, user_headers: bool, *,
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
