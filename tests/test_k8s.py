"""`loadkit k8s`: manifests valid for Kubernetes, wired as the README says, and built from the
very commands the distributed tests run (`loadkit run ... --master ...`, `loadkit worker ...`).

No cluster and no container runtime here: the YAML is checked against Kubernetes' own schemas
(kubernetes-validate, strict), its structure is checked object by object, the master's and
workers' argument lists are parsed by the real CLI, and the master's keep-results wrapper runs
under /bin/sh with a stand-in for `loadkit`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helpers import run_loadkit

from loadkit import k8s
from loadkit.cli import cli, run_cli
from loadkit.errors import ScenarioError, UsageError
from loadkit.exit_codes import ExitStatus
from loadkit.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent
KUBERNETES_VERSIONS = ("1.33", kubernetes_validate.latest_version())
SECRET_VALUE = "s3cr3t-t0ken-value-never-in-manifests"
DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")

CSV = "username,password,note\r\nalice,pw1,café ☕\r\nbob,pw2,trailing space \r\n"
JSONL = '{"id": 1}\n{"id": 2}\n'


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scenario with a secret, two data files in a subfolder and a CA bundle."""
    folder = tmp_path_factory.mktemp("project")
    (folder / "data").mkdir()
    (folder / "data" / "users.csv").write_bytes(CSV.encode())
    (folder / "data" / "ids.jsonl").write_bytes(JSONL.encode())
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=k8s test CA",
         "-addext", "basicConstraints=critical,CA:TRUE"],
        cwd=folder, check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    (folder / "ca.key").unlink()
    (folder / "Checkout Flow.yaml").write_text(
        "name: Checkout Flow (EU)\n"
        "host: https://shop.example.com\n"
        "load: {users: 10, spawn_rate: 5, duration: 2m}\n"
        "tls: {ca_bundle: ca.pem}\n"
        "defaults:\n"
        "  headers: {Authorization: 'Bearer ${secret:API_TOKEN}'}\n"
        "data:\n"
        "  users: {file: data/users.csv, order: unique}\n"
        "  ids: {file: data/ids.jsonl}\n"
        "users:\n"
        "  - name: buyer\n"
        "    data: users\n"
        "    tasks:\n"
        "      - request: {url: '/cart/{{ username }}'}\n"
        "        data: ids\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET_VALUE)


def generate(path: Path, **options: Any) -> str:
    return k8s.manifests(path, load_scenario(path), **options)


def documents(text: str) -> dict[str, dict[str, Any]]:
    """`Kind` (and `Job/master`, `Job/worker`) -> the object."""
    found: dict[str, dict[str, Any]] = {}
    for doc in yaml.safe_load_all(text):
        kind = doc["kind"]
        if kind == "Job":
            kind = f"Job/{doc['metadata']['labels']['app.kubernetes.io/component']}"
        assert kind not in found
        found[kind] = doc
    return found


def container(job: dict[str, Any]) -> dict[str, Any]:
    (only,) = job["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def option_value(args: list[str], option: str) -> str:
    return args[args.index(option) + 1]


def reference() -> str:
    return k8s.manifests(
        "scenarios/reference.yaml",
        load_scenario(REPO / "scenarios" / "reference.yaml"),
        workers=8,
    )


def all_variants(project: Path) -> list[str]:
    scenario = project / "Checkout Flow.yaml"
    return [
        reference(),
        generate(scenario, secrets=["shop-secrets"]),
        generate(
            scenario,
            workers=3,
            namespace="load-tests",
            secrets=["shop-secrets", "more"],
            host="https://staging.example.com",
            run_id="nightly-0412",
            worker_cpu="2500m",
            worker_memory="2Gi",
            master_cpu="500m",
            master_memory="512Mi",
            keep_results_s=900,
        ),
        generate(scenario, secrets=["shop-secrets"], results_pvc="loadkit-results"),
    ]


# --- Kubernetes would accept it ---------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_for_kubernetes_in_strict_mode(
    project: Path, secret_env: None, version: str
) -> None:
    for text in all_variants(project):
        for doc in yaml.safe_load_all(text):
            kubernetes_validate.validate(doc, version, strict=True)


def test_names_and_labels_are_what_kubernetes_allows(project: Path, secret_env: None) -> None:
    for text in all_variants(project):
        for doc in yaml.safe_load_all(text):
            name = doc["metadata"]["name"]
            assert DNS_LABEL.fullmatch(name) and len(name) <= 63, name
            labels = doc["metadata"]["labels"]
            for value in labels.values():
                assert LABEL_VALUE.fullmatch(value) and len(value) <= 63, value
            for key in doc.get("data", {}):
                assert re.fullmatch(r"[-._a-zA-Z0-9]+", key), key


def test_names_come_from_the_scenario_name_and_fit_in_a_dns_label(project: Path) -> None:
    assert k8s.run_name("Checkout Flow (EU)") == "loadkit-checkout-flow-eu"
    assert (
        k8s.run_name("Checkout Flow (EU)", "nightly-0412")
        == "loadkit-checkout-flow-eu-nightly-0412"
    )
    long_name = k8s.run_name("x" * 200, "r1")
    assert len(long_name) <= 50 and long_name.endswith("-r1")
    assert k8s.run_name("!!!") == "loadkit-scenario"
    with pytest.raises(UsageError, match="--run-id"):
        k8s.run_name("a", "Not_A_Label")


# --- what the objects hold --------------------------------------------------------------------


def test_the_master_is_a_job_that_runs_once_with_the_master_command() -> None:
    docs = documents(reference())
    job = docs["Job/master"]
    assert job["metadata"]["name"] == "loadkit-reference-master"
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    master = container(job)
    assert "command" not in master  # the image's ENTRYPOINT, `loadkit`
    assert master["args"] == [
        "run", "/scenario/reference.yaml", "--master", "--expect-workers", "8",
        "--master-bind-host", "0.0.0.0", "--master-port", "5557",
        "--expect-workers-max-wait", "300s", "--out", "/results/loadkit-reference",
    ]  # fmt: skip
    assert master["image"] == "loadkit:0.1.0"
    assert master["ports"] == [{"containerPort": 5557, "name": "locust", "protocol": "TCP"}]
    mounts = {m["mountPath"]: m for m in master["volumeMounts"]}
    assert mounts["/scenario"]["readOnly"] is True
    assert {"/scenario", "/results", "/tmp"} == set(mounts)
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert volumes["results"] == {"emptyDir": {}, "name": "results"}
    assert volumes["scenario"]["configMap"]["name"] == "loadkit-reference-scenario"


def test_workers_are_an_indexed_job_pointed_at_the_masters_service() -> None:
    docs = documents(reference())
    job = docs["Job/worker"]
    assert job["metadata"]["name"] == "loadkit-reference-worker"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 8
    assert spec["activeDeadlineSeconds"] < docs["Job/master"]["spec"]["activeDeadlineSeconds"] + 1
    worker = container(job)
    assert worker["args"] == [
        "worker", "--master-host", "loadkit-reference-master", "--master-port", "5557",
        "--processes", "1",
    ]  # fmt: skip
    assert docs["Service"]["metadata"]["name"] == "loadkit-reference-master"
    assert {m["mountPath"] for m in worker["volumeMounts"]} == {"/scenario", "/tmp"}


def test_the_service_exposes_5557_of_the_master_pod_only() -> None:
    docs = documents(reference())
    service = docs["Service"]["spec"]
    assert service["ports"] == [
        {"name": "locust", "port": 5557, "protocol": "TCP", "targetPort": "locust"}
    ]
    master_labels = docs["Job/master"]["spec"]["template"]["metadata"]["labels"]
    worker_labels = docs["Job/worker"]["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= master_labels.items()
    assert not service["selector"].items() <= worker_labels.items()


def test_the_network_policy_lets_only_this_runs_workers_reach_the_masters_port() -> None:
    docs = documents(reference())
    policy = docs["NetworkPolicy"]["spec"]
    master_labels = docs["Job/master"]["spec"]["template"]["metadata"]["labels"]
    worker_labels = docs["Job/worker"]["spec"]["template"]["metadata"]["labels"]
    assert policy["policyTypes"] == ["Ingress"]
    assert policy["podSelector"]["matchLabels"].items() <= master_labels.items()
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"port": 5557, "protocol": "TCP"}]
    (source,) = rule["from"]
    assert set(source) == {"podSelector"}  # no namespaceSelector, no ipBlock
    selector = source["podSelector"]["matchLabels"]
    assert selector.items() <= worker_labels.items()
    assert not selector.items() <= master_labels.items()
    assert selector["app.kubernetes.io/instance"] == "loadkit-reference"  # not another run's


def test_every_object_carries_the_run_labels(project: Path, secret_env: None) -> None:
    for text in all_variants(project):
        for doc in yaml.safe_load_all(text):
            labels = doc["metadata"]["labels"]
            assert labels["app.kubernetes.io/name"] == "loadkit"
            assert labels["app.kubernetes.io/part-of"] == "loadkit"
            assert labels["app.kubernetes.io/component"] in ("scenario", "master", "worker")
            assert labels["app.kubernetes.io/instance"].startswith("loadkit-")
            template = doc.get("spec", {}).get("template")
            if template is not None:
                assert template["metadata"]["labels"] == labels


def test_resources_have_defaults_and_options_and_requests_equal_limits(
    project: Path, secret_env: None
) -> None:
    docs = documents(reference())
    for kind in ("Job/master", "Job/worker"):
        resources = container(docs[kind])["resources"]
        assert resources["requests"] == resources["limits"] == {"cpu": "1", "memory": "1Gi"}
    docs = documents(all_variants(project)[2])
    worker = container(docs["Job/worker"])
    assert worker["resources"]["limits"] == {"cpu": "2500m", "memory": "2Gi"}
    assert container(docs["Job/master"])["resources"]["limits"] == {
        "cpu": "500m",
        "memory": "512Mi",
    }
    # 2.5 cores: two Locust processes per pod, and the master waits for all of them.
    assert option_value(worker["args"], "--processes") == "2"
    master_args = container(docs["Job/master"])["args"]
    assert option_value(master_args, "--expect-workers") == str(3 * 2)


def test_expect_workers_equals_the_worker_replicas(project: Path, secret_env: None) -> None:
    for workers in (1, 5):
        docs = documents(generate(project / "Checkout Flow.yaml", workers=workers, secrets=["s"]))
        args = container(docs["Job/master"])["args"]
        assert option_value(args, "--expect-workers") == str(workers)
        assert docs["Job/worker"]["spec"]["parallelism"] == workers


def test_options_reach_the_objects(project: Path, secret_env: None) -> None:
    docs = documents(all_variants(project)[2])
    name = "loadkit-checkout-flow-eu-nightly-0412"
    for doc in docs.values():
        assert doc["metadata"]["namespace"] == "load-tests"
        assert doc["metadata"]["name"].startswith(name)
    master = container(docs["Job/master"])
    assert option_value(master["args"], "--host") == "https://staging.example.com"
    assert option_value(master["args"], "--out") == f"/results/{name}"
    assert option_value(container(docs["Job/worker"])["args"], "--master-host") == f"{name}-master"


def test_secrets_come_from_secret_refs_in_master_and_workers_and_never_as_values(
    project: Path, secret_env: None
) -> None:
    for text in all_variants(project):
        assert SECRET_VALUE not in text
    docs = documents(all_variants(project)[2])
    for kind in ("Job/master", "Job/worker"):
        env_from = container(docs[kind])["envFrom"]
        assert env_from == [
            {"secretRef": {"name": "shop-secrets"}},
            {"secretRef": {"name": "more"}},
        ]
    assert "envFrom" not in container(documents(reference())["Job/master"])
    # Workers are told the secrets' names (never values), to mask them in their pod logs.
    args = container(docs["Job/worker"])["args"]
    assert args[args.index("--secret-env") :] == ["--secret-env", "API_TOKEN"]
    assert "--secret-env" not in container(documents(reference())["Job/worker"])["args"]


def test_a_scenario_reading_secrets_needs_a_secret(project: Path, secret_env: None) -> None:
    with pytest.raises(UsageError, match=r"API_TOKEN.*--secret NAME"):
        generate(project / "Checkout Flow.yaml")


def test_the_configmap_holds_the_scenario_and_its_files_byte_for_byte(
    project: Path, secret_env: None
) -> None:
    docs = documents(generate(project / "Checkout Flow.yaml", secrets=["s"]))
    configmap = docs["ConfigMap"]
    assert configmap["metadata"]["name"] == "loadkit-checkout-flow-eu-scenario"
    for kind in ("Job/master", "Job/worker"):
        volumes = {v["name"]: v for v in docs[kind]["spec"]["template"]["spec"]["volumes"]}
        items = volumes["scenario"]["configMap"]["items"]
        mounted = {item["path"]: configmap["data"][item["key"]] for item in items}
        assert set(mounted) == {"Checkout Flow.yaml", "data/users.csv", "data/ids.jsonl", "ca.pem"}
        for path, text in mounted.items():
            assert text.encode("utf-8") == (project / path).read_bytes(), path
    assert container(docs["Job/master"])["args"][1] == "/scenario/Checkout Flow.yaml"


def test_what_cannot_be_shipped_is_refused(tmp_path: Path) -> None:
    (tmp_path / "inner").mkdir()
    (tmp_path / "rows.csv").write_text("a\n1\n")
    scenario_file = tmp_path / "inner" / "s.yaml"
    text = (
        "name: s\nhost: http://target.example\nload: {users: 1, spawn_rate: 1, duration: 5s}\n"
        "data: {rows: {file: ../rows.csv}}\n"
        "users: [{name: u, data: rows, tasks: [{request: {url: /}}]}]\n"
    )
    scenario = None
    # A file outside the scenario's folder may need `files: {allow_outside: [...]}`.
    for extra in ("", f"files: {{allow_outside: [{tmp_path}]}}\n"):
        scenario_file.write_text(text + extra)
        try:
            scenario = load_scenario(scenario_file)
            break
        except ScenarioError:
            continue
    if scenario is None:
        pytest.skip("the scenario language refuses data outside the scenario's folder")
    with pytest.raises(UsageError, match=r"data.rows.file: \.\./rows.csv is outside"):
        k8s.manifests(scenario_file, scenario)


def test_a_configmap_over_one_mebibyte_is_refused(tmp_path: Path) -> None:
    rows = "n\n" + "".join(f"{i:07d}\n" for i in range(140_000))
    (tmp_path / "rows.csv").write_text(rows)
    (tmp_path / "s.yaml").write_text(
        "name: s\nhost: http://target.example\nload: {users: 1, spawn_rate: 1, duration: 5s}\n"
        "data: {rows: {file: rows.csv}}\n"
        "users: [{name: u, data: rows, tasks: [{request: {url: /}}]}]\n"
    )
    with pytest.raises(UsageError, match="a ConfigMap holds at most 1,048,576"):
        k8s.manifests(tmp_path / "s.yaml", load_scenario(tmp_path / "s.yaml"))


def test_pods_run_as_a_non_root_user_with_nothing_to_escalate() -> None:
    docs = documents(reference())
    for kind in ("Job/master", "Job/worker"):
        spec = docs[kind]["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == dockerfile_user()
        assert spec["automountServiceAccountToken"] is False
        context = container(docs[kind])["securityContext"]
        assert context == {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        }


def test_results_on_a_volume_claim(project: Path, secret_env: None) -> None:
    docs = documents(all_variants(project)[3])
    volumes = {v["name"]: v for v in docs["Job/master"]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["results"]["persistentVolumeClaim"] == {"claimName": "loadkit-results"}


def test_the_output_is_deterministic_and_says_how_it_was_made(
    project: Path, secret_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = all_variants(project)
    monkeypatch.chdir(tmp_path)  # another working folder, another process state
    second = all_variants(project)
    assert first == second
    text = first[0]
    assert text.startswith(
        "# Generated by loadkit 0.1.0 (`loadkit k8s`) from scenarios/reference.yaml"
    )
    assert "kubectl wait --for=condition=complete job/loadkit-reference-master" in text
    assert "kubectl wait --for=condition=failed job/loadkit-reference-master" in text
    for doc_text in text.split("\n---\n")[1:]:
        keys = [line.split(":")[0] for line in doc_text.splitlines() if re.match(r"[a-zA-Z]", line)]
        assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--worker-cpu", "0", "--worker-cpu '0': not a Kubernetes quantity"),
        ("--worker-memory", "lots", "--worker-memory 'lots': not a Kubernetes quantity"),
        ("--namespace", "Load_Tests", "--namespace 'Load_Tests': not a Kubernetes name"),
        ("--secret", "my secret", "--secret 'my secret': not a Kubernetes name"),
        ("--run-id", "UPPER", "--run-id 'UPPER': not a Kubernetes name"),
    ],
)
def test_bad_options_are_one_line_errors(
    option: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(["k8s", str(REPO / "scenarios" / "demo.yaml"), option, value])
    assert code == ExitStatus.INVALID_INPUT
    err = capsys.readouterr().err
    last = err.splitlines()[-1]
    assert last.startswith("loadkit: error: ") and message in last and "Traceback" not in err


def test_the_cli_writes_the_same_yaml_and_warns_about_a_loopback_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "loadtest.yaml"
    code = run_cli(["k8s", "scenarios/reference.yaml", "--workers", "8", "-o", str(out)])
    assert code == ExitStatus.PASS
    assert "inside the cluster that is each worker pod itself" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == reference()


# --- the commands are the CLI's own, and the image runs them ---------------------------------


def dockerfile_user() -> int:
    users = re.findall(r"^USER\s+(\d+)", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert len(users) == 1, "one numeric USER, so runAsNonRoot can be checked"
    return int(users[0])


def test_the_dockerfile_runs_loadkit_as_a_non_root_user_from_a_wheel() -> None:
    text = (REPO / "Dockerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    entrypoints = [
        json.loads(line.split(None, 1)[1]) for line in instructions if line.startswith("ENTRYPOINT")
    ]
    assert entrypoints == [["loadkit"]]
    assert [line for line in instructions if line.startswith("CMD")] == ['CMD ["--help"]']
    assert re.findall(r"^FROM (\S+)", text, re.MULTILINE) == ["python:3.11-slim"] * 2
    assert dockerfile_user() != 0
    assert "pip install -e" not in text and "--editable" not in text
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert {"*", "!pyproject.toml", "!README.md", "!src/"} <= set(ignored)  # only what builds


def manifest_commands(text: str) -> dict[str, list[str]]:
    """The command line each container runs: ENTRYPOINT (`loadkit`) + args, or the wrapper's
    `loadkit "$@"` with the same args."""
    commands = {}
    for kind in ("Job/master", "Job/worker"):
        c = container(documents(text)[kind])
        if "command" in c:
            shell, flag, script, name = c["command"]
            assert (shell, flag, name) == ("/bin/sh", "-c", "loadkit")
            assert 'loadkit "$@" &' in script
        commands[kind] = ["loadkit", *c["args"]]
    return commands


def help_options(command: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "loadkit", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert result.returncode == 0, result.stderr
    return set(re.findall(r"(?<![\w-])(--[a-z][-a-z]*)", result.stdout))


def test_every_flag_in_the_manifests_is_one_the_real_cli_has(
    project: Path, secret_env: None
) -> None:
    known = {"run": help_options("run"), "worker": help_options("worker")}
    for text in all_variants(project):
        for argv in manifest_commands(text).values():
            subcommand = argv[1]
            assert subcommand in known
            flags = [a for a in argv[2:] if a.startswith("--")]
            assert flags and set(flags) <= known[subcommand], set(flags) - known[subcommand]


def test_the_manifests_arguments_parse_as_the_cli_parses_them(
    project: Path, secret_env: None
) -> None:
    """Beyond names: every value converts (a duration, a port, a host) as `loadkit` would."""
    for text in all_variants(project):
        for argv in manifest_commands(text).values():
            command = cli.commands[argv[1]]
            with command.make_context(argv[1], argv[2:]) as ctx:
                params = ctx.params
            if argv[1] == "run":
                assert params["master"] is True
                assert params["master_bind_host"] == "0.0.0.0"
                assert params["master_port"] == k8s.MASTER_PORT
                assert params["expect_workers"] >= 1
                assert params["expect_workers_max_wait"] == k8s.DEFAULT_WORKERS_MAX_WAIT_S
            else:
                assert params["master_port"] == k8s.MASTER_PORT
                assert params["processes"] >= 1


# --- the master's keep-results wrapper, run by a real /bin/sh ---------------------------------


@pytest.fixture
def wrapper(tmp_path: Path, project: Path, secret_env: None) -> tuple[list[str], Path, Path]:
    """The master's command with /results moved to a temporary folder, and a stand-in
    `loadkit` that writes its arguments, then exits with $FAKE_EXIT (or waits for SIGTERM)."""
    results = tmp_path / "results"
    results.mkdir()
    text = generate(project / "Checkout Flow.yaml", secrets=["s"], keep_results_s=30)
    master = container(documents(text)["Job/master"])
    command = [part.replace("/results", str(results)) for part in master["command"]]
    args = [part.replace("/results", str(results)) for part in master["args"]]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "loadkit"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {results}/argv\n'
        'if [ "$FAKE_EXIT" = wait ]; then\n'
        "  trap 'echo term > " + str(results) + "/got-term; exit 3' TERM\n"
        "  while true; do sleep 0.1; done\n"
        "fi\n"
        'exit "$FAKE_EXIT"\n'
    )
    fake.chmod(0o755)
    return [*command, *args], results, bin_dir


def run_wrapper(argv: list[str], bin_dir: Path, fake_exit: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_EXIT": fake_exit}
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.skipif(shutil.which("sh") is None, reason="no /bin/sh")
def test_the_kept_master_exits_with_the_verdict_once_the_results_are_collected(
    wrapper: tuple[list[str], Path, Path],
) -> None:
    argv, results, bin_dir = wrapper
    started = time.monotonic()
    process = run_wrapper(argv, bin_dir, "1")
    deadline = time.monotonic() + 10
    while not (results / k8s.EXIT_CODE_FILE).exists():
        assert time.monotonic() < deadline, "the run's exit code was never written"
        time.sleep(0.05)
    assert (results / k8s.EXIT_CODE_FILE).read_text() == "1\n"
    assert (results / "argv").read_text().startswith("run /scenario/Checkout Flow.yaml --master")
    time.sleep(1.5)
    assert process.poll() is None, "the pod must stay for `kubectl cp`"
    (results / k8s.COLLECTED_FILE).touch()
    assert process.wait(timeout=10) == 1  # the verdict, so the Job fails as the run did
    assert time.monotonic() - started < 15  # not the whole 30 s


@pytest.mark.skipif(shutil.which("sh") is None, reason="no /bin/sh")
def test_sigterm_reaches_loadkit_and_its_exit_status_is_kept(
    wrapper: tuple[list[str], Path, Path],
) -> None:
    argv, results, bin_dir = wrapper
    process = run_wrapper(argv, bin_dir, "wait")
    deadline = time.monotonic() + 10
    while not (results / "argv").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)  # `kubectl delete job` during the run
    deadline = time.monotonic() + 10
    while not (results / k8s.EXIT_CODE_FILE).exists():
        assert time.monotonic() < deadline, "loadkit never saw SIGTERM"
        time.sleep(0.05)
    assert (results / "got-term").exists()
    assert (results / k8s.EXIT_CODE_FILE).read_text() == "3\n"  # aborted
    process.send_signal(signal.SIGTERM)  # and again while the results are kept
    assert process.wait(timeout=10) == 3


# --- values the pods fill, and data files that hold secrets ----------------------------------

ACCOUNTS = "username,password\r\nalice,alice-pw-1\r\nbob,bob-pw-22\r\n"


SECRET_ACCOUNTS = "{file: data/accounts.csv, secret: true}"
PLAIN_ACCOUNTS = "{file: data/accounts.csv}"
BOTH = {"data/accounts.csv", "data/ids.jsonl"}


def orders_project(tmp_path: Path, accounts: str = SECRET_ACCOUNTS) -> Path:
    """A scenario whose host is set in the run stage only, with a secret and a data file of
    passwords; none of their values is set here."""
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "accounts.csv").write_bytes(ACCOUNTS.encode())
    (tmp_path / "data" / "ids.jsonl").write_bytes(JSONL.encode())
    scenario = tmp_path / "orders.yaml"
    scenario.write_text(
        "name: Orders\n"
        "host: ${LK_K8S_HOST}\n"
        "load: {users: 4, spawn_rate: 2, duration: 1m}\n"
        "defaults: {headers: {Authorization: 'Bearer ${secret:LK_K8S_TOKEN}'}}\n"
        "data:\n"
        f"  accounts: {accounts}\n"
        "  ids: {file: data/ids.jsonl}\n"
        "users:\n"
        "  - name: buyer\n"
        "    data: accounts\n"
        "    tasks:\n"
        "      - request: {method: POST, url: /login,\n"
        "          json: {user: '{{ username }}', password: '{{ password }}'}}\n"
    )
    return scenario


def valid_documents(text: str) -> dict[str, dict[str, Any]]:
    for version in KUBERNETES_VERSIONS:
        for doc in yaml.safe_load_all(text):
            kubernetes_validate.validate(doc, version, strict=True)
    return documents(text)


def test_host_suffices_the_pods_fill_variables_and_secrets(tmp_path: Path) -> None:
    scenario = orders_project(tmp_path)
    result = run_loadkit(
        "k8s", str(scenario), "--host", "https://orders.internal", "--secret", "orders"
    )
    assert result.returncode == ExitStatus.PASS, result
    assert result.stderr == ""
    docs = valid_documents(result.stdout)
    master = container(docs["Job/master"])
    # The pod runs the scenario as written: --host replaces the host, the token comes from
    # the Secret (workers mask it by name).
    assert master["args"][:2] == ["run", "/scenario/orders.yaml"]
    assert option_value(master["args"], "--host") == "https://orders.internal"
    assert master["envFrom"] == [{"secretRef": {"name": "orders"}}]
    worker = container(docs["Job/worker"])
    assert option_value(worker["args"], "--secret-env") == "LK_K8S_TOKEN"
    assert "${LK_K8S_HOST}" in docs["ConfigMap"]["data"]["orders.yaml"]

    # Without --host, the master pod fills the host from the Secret: said in the file and on
    # stderr; the loopback warning does not apply to a host not known here.
    result = run_loadkit("k8s", str(scenario), "--secret", "orders")
    assert result.returncode == ExitStatus.PASS, result
    assert result.stderr.splitlines() == [
        f"loadkit: note: {scenario}: LK_K8S_HOST: not set here; the master pod reads it from "
        "the Secret(s) orders: make sure they hold it"
    ]
    assert "# The pods fill ${LK_K8S_HOST} from the Secret(s) orders.\n" in result.stdout
    assert "--host" not in container(valid_documents(result.stdout)["Job/master"])["args"]

    # With no Secret, nothing could fill them: one line.
    result = run_loadkit("k8s", str(scenario), "--host", "https://orders.internal")
    assert result.returncode == ExitStatus.INVALID_INPUT
    assert result.stderr.splitlines() == [
        "loadkit: error: the scenario reads the secret(s) LK_K8S_TOKEN from the environment; "
        "give --secret NAME of a Kubernetes Secret holding them, e.g. `kubectl create secret "
        "generic loadtest-secrets --from-literal=LK_K8S_TOKEN=...`"
    ]


def scenario_volume(docs: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    spec = docs[kind]["spec"]["template"]["spec"]
    (mount,) = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "scenario"]
    assert mount == {"mountPath": "/scenario", "name": "scenario", "readOnly": True}
    (volume,) = [v for v in spec["volumes"] if v["name"] == "scenario"]
    return volume  # type: ignore[no-any-return]


def mounted_files(docs: dict[str, dict[str, Any]], kind: str) -> dict[str, tuple[str, str]]:
    """Path under /scenario -> (the kind of object it comes from, its text)."""
    found: dict[str, tuple[str, str]] = {}
    for source in scenario_volume(docs, kind)["projected"]["sources"]:
        ((what, ref),) = source.items()
        obj = docs["ConfigMap" if what == "configMap" else "Secret"]
        assert ref["name"] == obj["metadata"]["name"]
        texts = obj["data"] if what == "configMap" else obj["stringData"]
        for item in ref["items"]:
            assert item["path"] not in found
            found[item["path"]] = (obj["kind"], texts[item["key"]])
    return found


@pytest.mark.parametrize(
    ("accounts", "options", "in_secret"),
    [
        (SECRET_ACCOUNTS, [], {"data/accounts.csv"}),
        (PLAIN_ACCOUNTS, ["--data-secret", "accounts"], {"data/accounts.csv"}),
        (PLAIN_ACCOUNTS, ["--data-secret", "accounts", "--data-secret", "ids"], BOTH),
        (PLAIN_ACCOUNTS, ["--data-secret", "*"], BOTH),
    ],
    ids=["secret-true", "one", "two", "all"],
)
def test_data_files_with_secrets_go_into_a_secret_at_the_same_path(
    tmp_path: Path, accounts: str, options: list[str], in_secret: set[str]
) -> None:
    scenario = orders_project(tmp_path, accounts)
    result = run_loadkit(
        "k8s", str(scenario), "--host", "https://orders.internal", "--secret", "s", *options
    )
    assert result.returncode == ExitStatus.PASS, result
    docs = valid_documents(result.stdout)
    secret = docs["Secret"]
    assert secret["metadata"]["name"] == "loadkit-orders-data"
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["labels"]["app.kubernetes.io/instance"] == "loadkit-orders"
    configmap_text = json.dumps(docs["ConfigMap"])
    assert "alice-pw-1" not in configmap_text
    for kind in ("Job/master", "Job/worker"):
        files = mounted_files(docs, kind)
        # The same files at the same paths as before, each byte for byte, from its object.
        assert set(files) == {"orders.yaml", "data/accounts.csv", "data/ids.jsonl"}
        for path, (source, text) in files.items():
            assert source == ("Secret" if path in in_secret else "ConfigMap"), path
            assert text.encode("utf-8") == (tmp_path / path).read_bytes(), path
    header = result.stdout.split("---", 1)[0]
    assert f"# {', '.join(sorted(in_secret))}: in the Secret loadkit-orders-data" in header


def test_without_secret_data_the_scenario_volume_is_the_configmap(tmp_path: Path) -> None:
    result = run_loadkit(
        "k8s", str(orders_project(tmp_path, PLAIN_ACCOUNTS)), "--secret", "s"
    )
    assert result.returncode == ExitStatus.PASS, result
    docs = valid_documents(result.stdout)
    assert "Secret" not in docs
    assert set(scenario_volume(docs, "Job/master")) == {"configMap", "name"}


def test_an_unknown_data_secret_is_one_line(tmp_path: Path) -> None:
    scenario = orders_project(tmp_path)
    result = run_loadkit("k8s", str(scenario), "--secret", "s", "--data-secret", "acounts")
    assert result.returncode == ExitStatus.INVALID_INPUT
    assert result.stderr.splitlines()[-1] == (
        "loadkit: error: --data-secret 'acounts': no data source has that name; did you mean "
        "'accounts'? (data sources: accounts, ids; '*': all)"
    )


def test_a_value_that_sizes_the_jobs_must_be_set_here(tmp_path: Path) -> None:
    """The run's duration sizes the Jobs' deadlines: a stand-in would make them far too short,
    so a duration read from an unset variable is one line, and set, the manifests follow it."""
    scenario = tmp_path / "sized.yaml"
    scenario.write_text(
        "name: sized\nhost: http://127.0.0.1:8080\n"
        'load: {users: 2, spawn_rate: 2, duration: "${LK_K8S_DURATION}"}\n'
        "users:\n  - name: u\n    tasks:\n      - request: {url: /a}\n",
        encoding="utf-8",
    )
    args = ("k8s", str(scenario), "--host", "https://orders.internal", "--secret", "orders")
    result = run_loadkit(*args)
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert result.stderr.splitlines()[-1] == (
        "loadkit: error: load.duration reads ${LK_K8S_DURATION}, which is not set here: "
        "loadkit k8s needs its value to size the Jobs and ship the files; export it (or give "
        "a default: ${LK_K8S_DURATION:-value})"
    )
    short = run_loadkit(*args, env={"LK_K8S_DURATION": "30s"})
    long = run_loadkit(*args, env={"LK_K8S_DURATION": "2h"})
    assert short.returncode == long.returncode == ExitStatus.PASS, (short, long)
    deadline = "activeDeadlineSeconds"
    short_job, long_job = (valid_documents(r.stdout)["Job/master"]["spec"] for r in (short, long))
    assert long_job[deadline] - short_job[deadline] == 7200 - 30


# --- a capacity search as a Job (`loadkit k8s --capacity`) ------------------------------------


def capacity_variants(project: Path) -> list[str]:
    from loadkit.k8s_capacity import CapacityJob

    scenario = project / "Checkout Flow.yaml"
    return [
        generate(scenario, secrets=["shop-secrets"], capacity=CapacityJob(slo=("p95 < 300ms",))),
        generate(
            scenario,
            workers=3,
            namespace="load-tests",
            secrets=["shop-secrets"],
            host="https://staging.example.com",
            worker_cpu="1500m",
            worker_memory="512Mi",
            keep_results_s=900,
            data_secrets=["users"],
            capacity=CapacityJob(
                slo=("p95 < 300ms", "error_rate < 1%"),
                budget_s=900,
                forecast=4000,
                headroom=0.3,
                start_rate=50,
                max_rate=2000,
                pool=400,
            ),
        ),
    ]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_a_capacity_search_job_is_valid_for_kubernetes(
    project: Path, secret_env: None, version: str
) -> None:
    for text in capacity_variants(project):
        for doc in yaml.safe_load_all(text):
            kubernetes_validate.validate(doc, version, strict=True)
            assert DNS_LABEL.fullmatch(doc["metadata"]["name"]), doc["metadata"]["name"]


def test_a_capacity_search_is_one_job_running_loadkit_capacity(
    project: Path, secret_env: None
) -> None:
    text = capacity_variants(project)[1]
    found = documents(text)
    # One pod generates the load: nothing listens, so no Service, no policy, no worker Job.
    assert set(found) == {"ConfigMap", "Secret", "Job/capacity"}, set(found)
    job = found["Job/capacity"]
    assert job["metadata"]["name"] == "loadkit-checkout-flow-eu-capacity"
    assert job["spec"]["backoffLimit"] == 0
    # The budget, the run Jobs' margins (start, end) and the time the results are kept.
    assert job["spec"]["activeDeadlineSeconds"] == 600 + 900 + 300 + 900
    box = container(job)
    assert box["resources"]["limits"] == {"cpu": "4500m", "memory": "1536Mi"}  # 3 × each
    assert box["resources"]["requests"] == box["resources"]["limits"]
    assert box["command"][:2] == ["/bin/sh", "-c"]  # kept for `kubectl cp`, as a run's master
    args = box["args"]
    assert args[:2] == ["capacity", "/scenario/Checkout Flow.yaml"]
    command = cli.commands["capacity"]
    with command.make_context("capacity", args[1:]) as ctx:  # parsed by the real CLI
        params = ctx.params
    assert params["slo"] == ("p95 < 300ms", "error_rate < 1%")
    assert params["processes"] == 3  # 3 workers × 1 process (1500m: one whole core)
    assert (params["budget_s"], params["forecast"], params["headroom"]) == (900, 4000, 0.3)
    assert (params["start_rate"], params["max_rate"], params["pool"]) == (50, 2000, 400)
    assert params["host"] == "https://staging.example.com"
    assert str(params["out"]) == "/results/loadkit-checkout-flow-eu"
    assert "kubectl -n load-tests logs -f job/loadkit-checkout-flow-eu-capacity" in text
    assert "exec job/loadkit-checkout-flow-eu-capacity -- test -e /results/exit-code" in text
    assert SECRET_VALUE not in text


def test_capacity_options_are_checked_before_any_pod(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nhost: https://shop.example.com\nload: {users: 1, spawn_rate: 1, duration: 1m}\n"
        "users:\n  - name: u\n    tasks:\n      - request: {url: /}\n",
        encoding="utf-8",
    )
    cases = {
        ("--slo", "p95 < 1s"): "--slo is an option of a capacity search: add --capacity",
        ("--capacity",): "the scenario has no thresholds on times, errors or Apdex to hold",
        ("--capacity", "--slo", "rps > 5"): "rps is set by the search's load",
    }
    for args, message in cases.items():
        result = run_loadkit("k8s", str(path), *args)
        assert result.returncode == ExitStatus.INVALID_INPUT, result
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
