"""The compiler: readable output, identifiers, and YAML values that can only ever be data."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
from helpers import REPO, run_loadkit

from loadkit import locustfile_helpers_source
from loadkit.compiler import compile_scenario
from loadkit.compiler_values import identifier, literal
from loadkit.demo_target.process import TargetProcess
from loadkit.scenario import load_scenario
from loadkit.scenario.limits import MAX_NAME_LENGTH
from loadkit.scenario.source import parse_yaml

EVIL = "\"); import os; os.system('touch {marker}') #"
EVIL_VARIANTS = [
    EVIL,
    "'''; import os; os.system('touch {marker}'); '''",
    '"""\nimport os\nos.system("touch {marker}")\n"""',
    "\\'); __import__('os').system('touch {marker}') #",
    "{{ x }} $HOME %s {{0}} \x00 \u202e",
]


def on_a_line(evil: str) -> str:
    """`evil` as the scenario may put it on a line of the request (a URL, a header value):
    a control character there is refused (tests/test_scenario_bounds.py)."""
    return re.sub(r"[\x00-\x08\x0a-\x1f\x7f]", " ", evil)


def evil_scenario(host: str, evil: str) -> str:
    # JSON strings are valid YAML scalars, so every value arrives exactly as written.
    s = json.dumps
    line = on_a_line(evil)
    return f"""\
name: {s(evil[:MAX_NAME_LENGTH])}
description: {s(evil)}
host: {s(host + "/" + line)}
load: {{users: 2, spawn_rate: 2, duration: 1s}}
defaults:
  headers: {{{s("X-Default-" + "a")}: {s(line)}}}
users:
  - name: {s(evil)}
    headers: {{X-User: {s(line)}}}
    tasks:
      - name: {s(evil)}
        request:
          method: POST
          url: {s("/api/reports?" + line)}
          name: {s(evil)}
          params: {{{s(evil)}: {s(evil)}}}
          headers: {{X-Evil: {s(line)}}}
          json: {{{s(evil)}: [{s(evil)}, {{nested: {s(evil)}}}]}}
        expect: {{status: [201], json: {{$.id: {s(evil)}}}, body_contains: {s(evil)},
                  headers: {{X-Evil: {s(line)}}}}}
      - name: {s(evil + "2")}
        request: {{method: PUT, url: /api/reports, body: {s(evil)}}}
"""


LEAN_PATH_IMPORTS = locustfile_helpers_source.helpers_source({"send"}).extra_imports


def compile_text(text: str) -> str:
    source = parse_yaml(text, "evil.yaml", environ={})
    from loadkit.scenario import validate_source

    return compile_scenario(validate_source(source), "evil.yaml")


@pytest.mark.parametrize("template", EVIL_VARIANTS)
def test_hostile_strings_compile_to_inert_data(tmp_path: Path, template: str) -> None:
    marker = tmp_path / "pwned"
    evil = template.format(marker=marker)
    code = compile_text(evil_scenario("http://127.0.0.1:9", evil))
    tree = ast.parse(code)
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    # Locust's own modules and what the lean request path uses, nothing from the scenario.
    assert {ast.unparse(n) for n in imports} == {
        "from locust import FastHttpUser, constant, task",
        *LEAN_PATH_IMPORTS,
    }
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    assert sum(evil in s for s in strings if isinstance(s, str)) >= 8
    module = tmp_path / "evil_locustfile.py"
    module.write_text(code)
    # Import it the way Locust does (after locust's own import); class bodies run here.
    probe = (
        "import locust, runpy, json, sys\n"
        f"ns = runpy.run_path({str(module)!r})\n"
        "users = [v for v in ns.values() if isinstance(v, type) and "
        "issubclass(v, locust.FastHttpUser) and v is not locust.FastHttpUser]\n"
        "print(json.dumps([[u.__name__, u.host, u.default_headers] for u in users]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    ((class_name, host, headers),) = json.loads(proc.stdout)
    assert class_name.isidentifier()
    assert host == "http://127.0.0.1:9/" + on_a_line(evil)
    assert headers == {"X-Default-a": on_a_line(evil), "X-User": on_a_line(evil)}


@pytest.mark.e2e
def test_hostile_strings_are_sent_verbatim(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = EVIL.format(marker=marker)
    with TargetProcess(record=True) as target:
        scenario = tmp_path / "evil.yaml"
        scenario.write_text(
            evil_scenario(target.url, evil).replace(f'"{target.url}/', f'"{target.url}')
        )
        # The host must stay a plain URL for the request to reach the target.
        text = scenario.read_text().replace(json.dumps(target.url + evil), json.dumps(target.url))
        scenario.write_text(text)
        result = run_loadkit("run", str(scenario), "--out", str(tmp_path / "run"))
        log = target.requests_seen()["log"]
    assert not marker.exists()
    assert "Traceback" not in result.stdout + result.stderr
    posts = [entry for entry in log if entry["method"] == "POST"]
    assert posts, result
    post = posts[0]
    assert post["headers"]["x-evil"] == evil
    assert post["headers"]["x-user"] == evil
    assert json.loads(post["body"]) == {evil: [evil, {"nested": evil}]}
    puts = [entry for entry in log if entry["method"] == "PUT"]
    assert puts and puts[0]["body"] == evil


@pytest.mark.parametrize(
    "name",
    [
        "demo",
        "login-flow",
        "capacity-search",
        "reference",
        "registration-open",
        "registration-closed",
    ],
)
def test_compiled_examples_are_up_to_date(name: str) -> None:
    scenario = load_scenario(REPO / "scenarios" / f"{name}.yaml", environ={})
    expected = compile_scenario(scenario, f"scenarios/{name}.yaml")
    assert (REPO / "locustfiles" / f"{name}.py").read_text() == expected, (
        f"run: loadkit compile scenarios/{name}.yaml -o locustfiles/{name}.py"
    )


@pytest.mark.e2e
def test_bridge_runs_a_scenario_under_plain_locust(tmp_path: Path) -> None:
    with TargetProcess() as target:
        env = {
            **os.environ,
            "LOADKIT_SCENARIO": str(REPO / "scenarios" / "login-flow.yaml"),
            "PYTHONPATH": str(REPO / "src"),
        }
        cmd = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(REPO / "locustfiles" / "loadkit_bridge.py"),
            "--headless",
            "-u",
            "3",
            "-r",
            "3",
            "-t",
            "2s",
            "--host",
            target.url,
        ]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path
        )
        seen = target.requests_seen()["by_route"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Tasks are picked at random (weights 2:3): any authenticated call after the login will do.
    authenticated = seen.get("GET /api/me", 0) + seen.get("GET /api/cases", 0)
    assert seen["POST /api/login"] == 3 and authenticated > 0, seen
    bad = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**env, "LOADKIT_SCENARIO": str(tmp_path / "missing.yaml")},
    )
    assert bad.returncode == 2
    assert f"loadkit: error: {tmp_path / 'missing.yaml'}:1:1: file not found" in bad.stderr


def test_generated_code_reads_like_hand_written_locust() -> None:
    code = (REPO / "locustfiles" / "demo.py").read_text()
    assert "class CitizenUser(FastHttpUser):" in code
    assert "    @task(6)\n    def list_cases(self):" in code
    assert "wait_time = between(0.2, 0.6)" in code
    assert (
        "        with send(self, 'GET', '/api/cases/3', catch_response=True) as response:\n"
        "            expect_status(response, 200)\n"
    ) in code
    classes = code.split("# Helpers copied", 1)[0]
    assert "name=" not in classes  # every request is named by its url, as Locust does by default
    compile(code, "demo.py", "exec")


def test_checks_and_captures_read_as_named_calls() -> None:
    code = (REPO / "locustfiles" / "login-flow.py").read_text()
    assert (
        "            ) as response:\n"
        "                if not (\n"
        "                    expect_status(response, 200)\n"
        "                    and expect_json_exists(response, '$.status')\n"
        "                    and capture_json(response, v, 'case_status', '$.status')\n"
        "                ):\n"
        "                    return\n"
    ) in code
    # The last step: nothing follows it, so no early return.
    assert (
        "                expect_status(response, 201)"
        " and expect_json(response, '$.status', 'received')\n"
    ) in code
    # JSON paths appear as written; they are parsed once, when the module is imported.
    table = code.split("\nJSON_PATHS = {\n", 1)[1].split("}\n", 1)[0]
    assert table.splitlines() == [
        "    '$.user': ('user',),",
        "    '$.token': ('token',),",
        "    '$.status': ('status',),",
    ]


def test_users_come_first_and_data_last() -> None:
    code = (REPO / "locustfiles" / "login-flow.py").read_text()
    user = code.index("class CitizenUser(FastHttpUser):")
    assert code.index("\ndef expect_status(") > user
    assert code.index("\nDATA_CITIZENS = DataSource(") > code.index("\nJSON_PATHS = {") > user
    assert code.endswith("        ('citizen200', 'pw-200', '02'),\n    ),\n)\n")
    # The class names the data only inside methods, which run once the module is imported.
    assert "        self.vars.update(DATA_CITIZENS.take(self))\n" in code


FLOW = """\
name: flow
host: http://127.0.0.1:9
load: {users: 1, spawn_rate: 1, duration: 1s}
variables: {case: 3}
users:
  - name: u
    tasks:
      - name: looped
        loop: {count: 2}
        flow:
          - request: {url: "/api/cases/{{ case }}", name: case}
            expect: {json: {$.id: 3}, max_ms: 1500ms}
            capture: {region: $.region}
          - request: {url: /api/stats}
            capture: {etag: {header: ETag}, n: {regex: 'n=(\\d+)'}}
      - name: plain
        request: {url: "/api/cases/{{ case }}"}
"""


def test_flows_end_where_they_did() -> None:
    """A failed check ends the flow before the next step; without a status check Locust's
    rule (status < 400) decides; a failed capture also ends the loop."""
    code = _compile(FLOW)
    looped = code.split("    def looped(self):\n", 1)[1].split("\n\n", 1)[0]
    assert looped.splitlines() == [
        "        v = self.vars",
        "        with Transaction(self, 'looped'):",
        "            for _ in range(2):",
        "                with send(",
        "                    self,",
        "                    'GET',",
        "                    '/api/cases/3',",
        "                    name='case',",
        "                    catch_response=True,",
        "                ) as response:",
        "                    if not (",
        "                        expect_json(response, '$.id', 3)",
        "                        and expect_max_ms(response, 1500)",
        "                        and response.ok",
        "                        and capture_json(response, v, 'region', '$.region')",
        "                    ):",
        "                        return",
        "                with send(self, 'GET', '/api/stats', catch_response=True) as response:",
        "                    if not (",
        "                        capture_header(response, v, 'etag', 'ETag')",
        "                        and capture_regex(response, v, 'n', 'n=(\\\\d+)')",
        "                    ):",
        "                        return",
    ]
    # A templated url keeps the statistics name it was written with; `v` only where used.
    assert (
        "    def plain(self):\n"
        "        send(self, 'GET', '/api/cases/3', name='/api/cases/{{ case }}')\n"
    ) in code


def test_identifiers_are_unique_and_valid() -> None:
    taken: set[str] = set()
    names = [identifier(n, taken) for n in ["list cases", "list-cases", "1st", "class", "", "!!"]]
    assert names == ["list_cases", "list_cases2", "task_1st", "task_class", "task_", "task_2"]
    assert all(n.isidentifier() for n in names)
    classes: set[str] = set()
    assert identifier("fast http", classes, style="camel", suffix="User") == "FastHttpUser2"
    assert identifier("citizen", classes, style="camel", suffix="User") == "CitizenUser"


def test_literal_refuses_values_that_are_not_literals() -> None:
    assert literal({"a": [1, 2.5, None, True]}) == "{'a': [1, 2.5, None, True]}"
    with pytest.raises(ValueError, match="cannot embed"):
        literal(float("nan"))
    with pytest.raises(ValueError, match="cannot embed"):
        literal(object())


def test_compile_command_writes_file(tmp_path: Path) -> None:
    out = tmp_path / "x" / "demo.py"
    result = run_loadkit("compile", str(REPO / "scenarios" / "demo.yaml"), "-o", str(out))
    assert result.returncode == 0, result
    assert out.read_text().startswith("# Locust user classes generated by loadkit")
    to_stdout = run_loadkit("compile", str(REPO / "scenarios" / "demo.yaml"))
    assert to_stdout.stdout == out.read_text()


def _compile(text: str) -> str:
    from loadkit.scenario import validate_source

    return compile_scenario(validate_source(parse_yaml(text, "s.yaml", environ={})), "s.yaml")


SHAPE_BASE = """\
name: shapes
host: http://127.0.0.1:9
load: LOAD
users: [{name: u, tasks: [{request: {url: /}}]}]
"""


@pytest.mark.parametrize(
    ("load", "stages", "doc"),
    [
        (
            "{step: {start: 10, step: 10, every: 30s, until: 30, spawn_rate: 5}}",
            [(10, 5.0, 30.0), (20, 5.0, 30.0), (30, 5.0, 30.0)],
            "step: 10 users, +10 every 30s up to 30",
        ),
        (
            "{spike: {users: 5, peak: 50, before: 10s, hold: 20s, after: 30s}}",
            [(5, 5.0, 10.0), (50, 50.0, 20.0), (5, 50.0, 30.0)],
            "spike: 5 users, 50 at the peak",
        ),
        (
            "{spawn_rate: 4, stages: [{users: 3, duration: 5s}, {users: 0, duration: 2s,"
            " spawn_rate: 10}]}",
            [(3, 4.0, 5.0), (0, 10.0, 2.0)],
            "2 stages",
        ),
    ],
)
def test_load_shapes_compile_to_a_visible_stage_table(
    load: str, stages: list[tuple[int, float, float]], doc: str
) -> None:
    code = _compile(SHAPE_BASE.replace("LOAD", load))
    assert f'"""The scenario\'s load shape ({doc})."""' in code
    table = code.split("    stages = (\n", 1)[1].split("    )\n", 1)[0]
    assert [ast.literal_eval(line.strip().rstrip(",")) for line in table.splitlines()] == stages
    namespace: dict[str, object] = {}
    shape_source = code[code.index("class LoadShape") :].split("\n\n\n", 1)[0]
    exec(  # the shape's tick() is plain Python: run it without Locust
        "class LoadTestShape:\n    def get_run_time(self):\n        return self.now\n\n"
        + shape_source,
        namespace,
    )
    shape = namespace["LoadShape"]()  # type: ignore[operator]
    elapsed = 0.0
    for users, rate, seconds in stages:
        shape.now = elapsed + seconds / 2
        assert shape.tick() == (users, rate)
        elapsed += seconds
    shape.now = elapsed + 0.1
    assert shape.tick() is None


def test_readme_shows_the_generated_code_as_it_is() -> None:
    readme = (REPO / "README.md").read_text()
    excerpt = readme.split("From [`locustfiles/login-flow.py`]", 1)[1]
    block = excerpt.split("```python\n", 1)[1].split("```", 1)[0]
    code = (REPO / "locustfiles" / "login-flow.py").read_text()
    position = 0
    for piece in block.split("        ...\n"):
        position = code.index(piece, position) + len(piece)


def test_templated_expectations_pass_their_template_to_the_check() -> None:
    """A failed check against a captured value, a data column or a secret names the template
    (as written, through `literal()`), never the value; literal expectations, and those
    filled from `variables:` when compiling, show the expected value as before."""
    from loadkit.scenario import validate_source

    text = """\
name: t
host: http://127.0.0.1:9
load: {users: 1, spawn_rate: 1, duration: 1s}
variables: {region: "01"}
secrets: [API_TOKEN]
users:
  - name: u
    tasks:
      - flow:
          - request: {url: /api/login, method: POST}
            capture: {token: $.token}
          - request: {url: /api/me}
            expect:
              json: {$.token: "{{ token }}", $.region: "{{ region }}", $.o: {k: "{{ token }}"}}
              headers: {X-Token: "${API_TOKEN}", Content-Type: application/json}
              body_contains: "hello {{ token }}"
"""
    environ = {"API_TOKEN": "t0ken-t0ken"}
    code = compile_scenario(validate_source(parse_yaml(text, "s.yaml", environ), environ))
    assert "expect_json(response, '$.token', v['token'], template='{{ token }}')" in code
    assert "expect_json(response, '$.region', '01')" in code
    assert (
        "expect_json(response, '$.o', {'k': v['token']}, template='{\"k\": \"{{ token }}\"}')"
    ) in code
    assert (
        "expect_header(response, 'X-Token', os.environ['API_TOKEN'], "
        "template='{{ env.API_TOKEN }}')"
    ) in code
    assert "expect_header(response, 'Content-Type', 'application/json')" in code
    assert (
        "expect_body_contains(response, 'hello ' + str(v['token']), template='hello {{ token }}')"
    ) in code
    assert "t0ken-t0ken" not in code


def test_a_large_table_is_embedded_as_one_json_text(tmp_path: Path) -> None:
    """Past compiler.TEXT_ROWS rows a table is one JSON string constant, parsed at import (as
    tuple literals, 200,000 rows took a load process 700 MB and 5 s to import): the rows a
    user gets are the file's, values with quotes and non-ASCII text included."""
    from loadkit.compiler import TEXT_ROWS

    count = TEXT_ROWS + 500
    rows = [(str(i), f'"quoted" \\ {i} é') for i in range(count)]
    (tmp_path / "rows.csv").write_text(
        "id,note\n" + "".join(f'{i},"{n.replace(chr(34), chr(34) * 2)}"\n' for i, n in rows),
        encoding="utf-8",
    )
    (tmp_path / "s.yaml").write_text(
        "name: big\nhost: http://127.0.0.1:9\nload: {users: 1, spawn_rate: 1, duration: 1s}\n"
        "data:\n  rows: {file: rows.csv}\n"
        "users:\n  - name: u\n    tasks:\n      - data: rows\n"
        "        request: {url: '/x?id={{ id }}'}\n",
        encoding="utf-8",
    )
    code = compile_scenario(load_scenario(tmp_path / "s.yaml"))
    (line,) = [ln for ln in code.splitlines() if ln.lstrip().startswith("rows=")]
    assert line.endswith(f"# {count:,} rows as one JSON text")
    value = ast.literal_eval(line.strip().removeprefix("rows=").split("  # ")[0].rstrip(","))
    assert isinstance(value, str) and json.loads(value) == [list(r) for r in rows]
    # The helper the locustfile carries reads it back into the same rows.
    source = locustfile_helpers_source.helpers_source({"DataSource"})
    hooks = types.SimpleNamespace(add_listener=lambda listener: listener)
    namespace: dict[str, object] = {"events": types.SimpleNamespace(init=hooks)}
    exec("import itertools, json, random\n" + source.code, namespace)
    table = namespace["DataSource"]("rows", "sequential", "cycle", ("id", "note"), value)  # type: ignore[operator]
    assert [tuple(r) for r in table.rows] == rows
    small = compile_text(
        "name: s\nhost: http://127.0.0.1:9\nload: {users: 1, spawn_rate: 1, duration: 1s}\n"
        "users:\n  - name: u\n    tasks:\n      - request: {url: /x}\n"
    )
    assert "JSON text" not in small
