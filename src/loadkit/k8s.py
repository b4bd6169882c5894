"""A scenario as Kubernetes manifests: one master Job, N workers, for plain `kubectl apply`.

`manifests()` is a pure function of the scenario, its files and the options: the same input
gives the same YAML, byte for byte. What it makes, all labelled with the run's name:

- a ConfigMap holding the scenario file and every file it names (data, CA bundle, included
  locustfiles, python task modules), mounted at /scenario in master and workers alike, so
  paths the compiler resolves on the master hold on the workers too; data files that hold
  secrets (`secret: true` in the scenario, or `--data-secret`) go into a Secret instead,
  projected into the same folder (one volume, both sources), so the paths stay the same;
- nothing the pods fill themselves: the master runs `loadkit run` on the scenario as written,
  so its `${VAR}`s and secrets are read from the pod's environment (the `--secret` Secrets),
  not from the machine that made the manifests;
- the master as a Job (`backoffLimit: 0`, never restarted: a load test is not re-run behind
  anyone's back) whose container exits with the verdict's code, so `kubectl wait
  --for=condition=complete` passes exactly when the run passed;
- a Service for the workers to reach the master's port, and a NetworkPolicy that lets only
  this run's worker pods reach it (the port is unauthenticated: whoever reaches it receives the
  locustfile and may join);
- the workers as an Indexed Job, not a Deployment: a worker exits when its master ends the
  test, and a Job then completes where a Deployment would restart it into a crash loop
  against a master that is gone; with `activeDeadlineSeconds` no load outlives the test even
  if the master dies, and the index names each worker (`...-worker-3-xxxxx`) in `kubectl get
  pods` and logs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from loadkit import __version__
from loadkit.errors import UsageError
from loadkit.k8s_files import ALL_DATA as ALL_DATA  # the CLI's --data-secret '*'
from loadkit.k8s_files import ShippedFile, shipped_files

if TYPE_CHECKING:  # the CLI imports this module for its defaults: no pydantic, no YAML yet
    from loadkit.k8s_capacity import CapacityJob
    from loadkit.scenario import Scenario

MASTER_PORT = 5557  # Locust's default master port: the Service, the policy and both commands
DEFAULT_IMAGE = f"loadkit:{__version__}"  # built from the repository's Dockerfile
DEFAULT_WORKERS = 2
DEFAULT_WORKER_CPU = "1"
DEFAULT_WORKER_MEMORY = "1Gi"
DEFAULT_MASTER_CPU = "1"
DEFAULT_MASTER_MEMORY = "1Gi"
DEFAULT_WORKERS_MAX_WAIT_S = 300  # pods may wait for a node and an image pull
SCENARIO_DIR = "/scenario"
RESULTS_DIR = "/results"
EXIT_CODE_FILE = "exit-code"  # in RESULTS_DIR, written when the run is over (--keep-results-for)
COLLECTED_FILE = "collected"  # in RESULTS_DIR: `touch` it to let a kept master end at once

# Deadlines beyond the planned load: getting a node and pulling the image, then shutting
# down and writing the summary and reports (30 s grace before a hung Locust is killed).
_START_MARGIN_S = 600
_END_MARGIN_S = 300
_USER_ID = 10001  # the Dockerfile's user; runAsNonRoot needs it as a number

_DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_CPU = re.compile(r"(\d+(\.\d+)?|\d+m)")
_MEMORY = re.compile(r"\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?")
_NAME_MAX = 50  # leaves room for "-scenario" and a Job's pod suffixes within 63

# After the run, the master keeps its pod (and so /results) for `kubectl cp`, until the time
# is up or someone touches /results/collected; then it exits with the verdict's code.
# SIGTERM reaches loadkit (an abort, exit 3) during the run and ends the wait after it.
_KEEP_SCRIPT = """\
trap 'signalled=1; kill -TERM "$pid" 2>/dev/null' TERM INT
loadkit "$@" &
pid=$!
signalled=0
wait "$pid"
status=$?
while [ "$signalled" = 1 ]; do signalled=0; wait "$pid"; status=$?; done
echo "$status" > {results}/{exit_code}
trap 'exit "$status"' TERM INT
echo "loadkit: exit status $status; {results} kept {seconds}s or until {results}/{collected} exists"
left={seconds}
while [ "$left" -gt 0 ] && [ ! -e {results}/{collected} ]; do sleep 1; left=$((left - 1)); done
exit "$status"
"""


def manifests(
    scenario_path: str | Path,
    scenario: Scenario,
    *,
    workers: int = DEFAULT_WORKERS,
    namespace: str | None = None,
    image: str = DEFAULT_IMAGE,
    secrets: Sequence[str] = (),
    host: str | None = None,
    run_id: str | None = None,
    worker_cpu: str = DEFAULT_WORKER_CPU,
    worker_memory: str = DEFAULT_WORKER_MEMORY,
    master_cpu: str = DEFAULT_MASTER_CPU,
    master_memory: str = DEFAULT_MASTER_MEMORY,
    workers_max_wait_s: int = DEFAULT_WORKERS_MAX_WAIT_S,
    keep_results_s: int = 0,
    results_pvc: str | None = None,
    data_secrets: Sequence[str] = (),
    capacity: CapacityJob | None = None,
) -> str:
    """The multi-document YAML for one distributed run of the scenario at `scenario_path`.

    Raises UsageError for options Kubernetes would refuse and for what cannot be shipped
    (a client key, a file outside the scenario's folder, a ConfigMap over 1 MiB).
    `data_secrets`: names of data sources shipped in a Secret besides those the scenario
    marks `secret: true` (`ALL_DATA`: every one). `capacity`: a capacity search's Job
    instead of a run's (`k8s_capacity`).
    """
    if workers < 1:
        raise UsageError(f"--workers must be at least 1 (got {workers})")
    # A value the reader could only stand in for (a duration, a count, a data file's path) would
    # size the Jobs or ship the files wrong; the pods fill only what the scenario reads as text.
    sizing = [v for v in scenario.unset if v.unchecked and v.path != ("host",)]
    if sizing:
        first = sizing[0]
        raise UsageError(
            f"{first.key_path} reads ${{{first.name}}}, which is not set here: loadkit k8s "
            "needs its value to size the Jobs and ship the files; export it (or give a "
            f"default: ${{{first.name}:-value}})"
        )
    _check_quantity("--worker-cpu", worker_cpu, _CPU, "1 or 500m")
    _check_quantity("--master-cpu", master_cpu, _CPU, "1 or 500m")
    _check_quantity("--worker-memory", worker_memory, _MEMORY, "1Gi or 512Mi")
    _check_quantity("--master-memory", master_memory, _MEMORY, "1Gi or 512Mi")
    if namespace is not None:
        _check_name("--namespace", namespace, _DNS_LABEL)
    for secret in secrets:
        _check_name("--secret", secret, _DNS_SUBDOMAIN)
    if results_pvc is not None:
        _check_name("--results-pvc", results_pvc, _DNS_SUBDOMAIN)
    needed = secret_names(scenario)
    if needed and not secrets:
        raise UsageError(
            f"the scenario reads the secret(s) {', '.join(needed)} from the environment; give "
            "--secret NAME of a Kubernetes Secret holding them, e.g. `kubectl create secret "
            f"generic loadtest-secrets --from-literal={needed[0]}=...`"
        )
    filled = pod_variables(scenario, host)
    if filled and not secrets:
        raise UsageError(
            f"the scenario reads {', '.join(filled)} from the environment, not set here: the "
            "pods fill it from a Secret: give --secret NAME of a Secret holding "
            f"{'them' if len(filled) > 1 else 'it'}"
            + (", or --host URL" if filled == _host_variables(scenario) else "")
        )
    if capacity is not None:
        capacity.check(scenario, str(scenario_path))
    load_s = scenario.load.total_duration
    if load_s <= 0 and capacity is None:  # a search sets its own steps' durations
        raise UsageError("the scenario's load has no duration; a Kubernetes run needs an end")

    name = run_name(scenario.name, run_id)
    scenario_file = Path(scenario_path)
    files = shipped_files(scenario_file, scenario, data_secrets)
    processes = worker_processes(worker_cpu)
    run_s = workers_max_wait_s + math.ceil(load_s + scenario.load.stop_timeout)
    worker_deadline = _START_MARGIN_S + run_s + _END_MARGIN_S
    python_tasks = any(task.python for user in scenario.users for task in user.tasks)
    items = tuple((f.key, f.path) for f in files if not f.secret)
    secret_items = tuple((f.key, f.path) for f in files if f.secret)
    pod = _PodParts(name, namespace, image, tuple(secrets), python_tasks, items, secret_items)

    if capacity is not None:
        return _capacity_manifests(
            pod, files, capacity, scenario_file, host, workers, processes, image,
            worker_cpu, worker_memory, keep_results_s, results_pvc, filled,
        )  # fmt: skip
    master_args = [
        "run",
        f"{SCENARIO_DIR}/{scenario_file.name}",
        "--master",
        "--expect-workers",
        str(workers * processes),  # each worker process is one Locust worker to the master
        "--master-bind-host",
        "0.0.0.0",
        "--master-port",
        str(MASTER_PORT),
        "--expect-workers-max-wait",
        f"{workers_max_wait_s}s",
        "--out",
        f"{RESULTS_DIR}/{name}",
    ]
    if host is not None:
        master_args += ["--host", host]
    worker_args = [
        "worker",
        "--master-host",
        f"{name}-master",
        "--master-port",
        str(MASTER_PORT),
        "--processes",
        str(processes),
        # The secrets' names (values only from the pod's Secrets): masked in the pod's log.
        *[arg for secret in needed for arg in ("--secret-env", secret)],
    ]
    documents = [
        _configmap(pod, files),
        *([_data_secret(pod, files)] if secret_items else []),
        _service(pod),
        _network_policy(pod),
        _master_job(
            pod,
            master_args,
            cpu=master_cpu,
            memory=master_memory,
            deadline_s=worker_deadline + keep_results_s,
            keep_results_s=keep_results_s,
            results_pvc=results_pvc,
        ),
        _worker_job(
            pod,
            worker_args,
            workers=workers,
            cpu=worker_cpu,
            memory=worker_memory,
            deadline_s=worker_deadline,
        ),
    ]
    header = _header(
        name,
        namespace,
        scenario_file,
        workers,
        processes,
        image,
        keep_results_s,
        results_pvc,
        filled,
        tuple(secrets),
        [f.path for f in files if f.secret],
    )
    return header + _dump(documents)


def _capacity_manifests(
    pod: _PodParts,
    files: list[ShippedFile],
    search: CapacityJob,
    scenario_file: Path,
    host: str | None,
    workers: int,
    processes: int,
    image: str,
    worker_cpu: str,
    worker_memory: str,
    keep_results_s: int,
    results_pvc: str | None,
    filled: Sequence[str],
) -> str:
    from loadkit.k8s_capacity import CAPACITY_COMPONENT, capacity_documents, capacity_header

    job = capacity_documents(
        pod, search, scenario_file=scenario_file, host=host, workers=workers,
        processes=processes, worker_cpu=worker_cpu, worker_memory=worker_memory,
        margins_s=_START_MARGIN_S + _END_MARGIN_S, keep_results_s=keep_results_s,
        results_pvc=results_pvc,
    )  # fmt: skip
    documents = [
        _configmap(pod, files),
        *([_data_secret(pod, files)] if pod.secret_items else []),
        job,
    ]
    header = _header(
        pod.name, pod.namespace, scenario_file, workers, processes, image, keep_results_s,
        results_pvc, filled, pod.secrets, [f.path for f in files if f.secret],
        top=capacity_header(pod.name, pod.namespace, scenario_file, workers, processes, image,
                            search),
        component=CAPACITY_COMPONENT,
    )  # fmt: skip
    return header + _dump(documents)


def run_name(scenario_name: str, run_id: str | None = None) -> str:
    """`loadkit-<scenario>[-<run id>]`: a DNS label, stable for a scenario name."""
    slug = re.sub(r"[^a-z0-9]+", "-", scenario_name.lower()).strip("-") or "scenario"
    suffix = ""
    if run_id is not None:
        _check_name("--run-id", run_id, re.compile(r"[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?"))
        suffix = f"-{run_id}"
    room = _NAME_MAX - len("loadkit-") - len(suffix)
    return f"loadkit-{slug[:room].rstrip('-')}{suffix}"


def host_warning(scenario: Scenario, host: str | None) -> str | None:
    """A scenario aimed at this machine would, in the cluster, load each worker pod itself."""
    if host is None and _host_variables(scenario):
        return None  # the pod fills the host: it is not known here
    hostname = (urlsplit(host or scenario.host).hostname or "").lower()
    if hostname in ("localhost", "127.0.0.1", "::1") or hostname.startswith("127."):
        return (
            f"the target is {host or scenario.host}: inside the cluster that is each worker pod "
            "itself; give --host URL (or set the scenario's ${...} variable in the --secret)"
        )
    return None


def _host_variables(scenario: Scenario) -> list[str]:
    return sorted({u.name for u in scenario.unset if u.path == ("host",) and not u.secret})


def pod_variables(scenario: Scenario, host: str | None) -> list[str]:
    """The scenario's `${VAR}`s not set here, which the pods fill from their environment
    (a host's, when --host replaces it, is not needed at all)."""
    return sorted(
        {
            u.name
            for u in scenario.unset
            if not u.secret and not (host is not None and u.path == ("host",))
        }
    )


def pod_variables_notes(scenario: Scenario, host: str | None, secrets: Sequence[str]) -> list[str]:
    """What the person should know of the values the pods fill (stderr of `loadkit k8s`)."""
    filled = pod_variables(scenario, host)
    if not filled or not secrets:
        return []  # none, or `manifests` refuses them
    return [
        f"{', '.join(filled)}: not set here; the master pod reads "
        f"{'them' if len(filled) > 1 else 'it'} from the Secret(s) {', '.join(secrets)}: "
        "make sure they hold it"
    ]


def secret_names(scenario: Scenario) -> list[str]:
    """Environment variables the scenario reads as secrets (`${secret:NAME}`, `secrets:`)."""
    # secret_names: the ${secret:NAME}s the scenario loader met.
    return sorted({*scenario.secrets, *scenario.secret_names})


def worker_processes(cpu: str) -> int:
    """One Locust process per whole core of a worker's CPU limit (at least one)."""
    cores = int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    return max(1, math.floor(cores))


def _check_quantity(option: str, value: str, pattern: re.Pattern[str], example: str) -> None:
    if not pattern.fullmatch(value) or not any(c in "123456789" for c in value):
        raise UsageError(f"{option} {value!r}: not a Kubernetes quantity above 0, e.g. {example}")


def _check_name(option: str, value: str, pattern: re.Pattern[str]) -> None:
    if len(value) > 63 or not pattern.fullmatch(value):
        raise UsageError(
            f"{option} {value!r}: not a Kubernetes name (lower-case letters, digits and -, "
            "at most 63 characters)"
        )


@dataclass(frozen=True)
class _PodParts:
    """What every object of one run shares."""

    name: str
    namespace: str | None
    image: str
    secrets: tuple[str, ...]
    python_tasks: bool
    scenario_items: tuple[tuple[str, str], ...]  # ConfigMap key, path under SCENARIO_DIR
    secret_items: tuple[tuple[str, str], ...] = ()  # the same, of the data Secret

    def labels(self, component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/instance": self.name,  # the run id
            "app.kubernetes.io/managed-by": "loadkit",
            "app.kubernetes.io/name": "loadkit",
            "app.kubernetes.io/part-of": "loadkit",
            "app.kubernetes.io/version": __version__,
        }

    def selector(self, component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/instance": self.name,
            "app.kubernetes.io/name": "loadkit",
        }

    def metadata(self, name: str, component: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"labels": self.labels(component), "name": name}
        if self.namespace is not None:
            meta["namespace"] = self.namespace
        return meta

    def container(
        self, name: str, args: list[str], cpu: str, memory: str, mounts: list[dict[str, Any]]
    ) -> dict[str, Any]:
        container: dict[str, Any] = {
            "args": args,
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "name": name,
            # requests == limits: the scheduler reserves what the generator may use, so its
            # numbers do not depend on what runs next to it (and the pod is never throttled
            # below what it was promised).
            "resources": {
                "limits": {"cpu": cpu, "memory": memory},
                "requests": {"cpu": cpu, "memory": memory},
            },
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "readOnlyRootFilesystem": True,
            },
            "volumeMounts": [
                {"mountPath": SCENARIO_DIR, "name": "scenario", "readOnly": True},
                {"mountPath": "/tmp", "name": "tmp"},  # Locust's received locustfile
                *mounts,
            ],
        }
        if self.secrets:
            container["envFrom"] = [{"secretRef": {"name": s}} for s in self.secrets]
        if self.python_tasks:  # `python: module:function` imports from the scenario's folder
            container["env"] = [{"name": "PYTHONPATH", "value": SCENARIO_DIR}]
        return container

    def pod_spec(
        self, container: dict[str, Any], restart: str, volumes: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "automountServiceAccountToken": False,  # nothing here talks to the API server
            "containers": [container],
            "enableServiceLinks": False,
            "restartPolicy": restart,
            "securityContext": {
                "fsGroup": _USER_ID,
                "runAsGroup": _USER_ID,
                "runAsNonRoot": True,
                "runAsUser": _USER_ID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumes": [
                {**self._scenario_volume(), "name": "scenario"},
                {"emptyDir": {}, "name": "tmp"},
                *volumes,
            ],
        }


    def _scenario_volume(self) -> dict[str, Any]:
        """The scenario's folder: the ConfigMap, and the data Secret projected beside it."""
        configmap = {
            "items": [{"key": k, "path": p} for k, p in self.scenario_items],
            "name": f"{self.name}-scenario",
        }
        if not self.secret_items:
            return {"configMap": configmap}
        secret = {
            "items": [{"key": k, "path": p} for k, p in self.secret_items],
            "name": f"{self.name}-data",
        }
        return {"projected": {"sources": [{"configMap": configmap}, {"secret": secret}]}}


def _configmap(pod: _PodParts, files: list[ShippedFile]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "data": {f.key: f.text for f in files if not f.secret},
        "kind": "ConfigMap",
        "metadata": pod.metadata(f"{pod.name}-scenario", "scenario"),
    }


def _data_secret(pod: _PodParts, files: list[ShippedFile]) -> dict[str, Any]:
    """Data files that hold secrets: a Secret (readable only by whom RBAC lets read Secrets,
    encrypted at rest where the cluster does that), not the ConfigMap."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": pod.metadata(f"{pod.name}-data", "scenario"),
        "stringData": {f.key: f.text for f in files if f.secret},
        "type": "Opaque",
    }


def _service(pod: _PodParts) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": pod.metadata(f"{pod.name}-master", "master"),
        "spec": {
            "ports": [
                {"name": "locust", "port": MASTER_PORT, "protocol": "TCP", "targetPort": "locust"}
            ],
            "selector": pod.selector("master"),
            "type": "ClusterIP",
        },
    }


def _network_policy(pod: _PodParts) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": pod.metadata(f"{pod.name}-master", "master"),
        "spec": {
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": pod.selector("worker")}}],
                    "ports": [{"port": MASTER_PORT, "protocol": "TCP"}],
                }
            ],
            "podSelector": {"matchLabels": pod.selector("master")},
            "policyTypes": ["Ingress"],
        },
    }


def job_container(
    pod: _PodParts,
    component: str,
    args: list[str],
    *,
    cpu: str,
    memory: str,
    keep_results_s: int,
    results_pvc: str | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The container and pod spec of a Job that writes its folder to RESULTS_DIR (a run's
    master, a capacity search): kept for `kubectl cp` or on a volume claim."""
    container = pod.container(
        component, args, cpu, memory, [{"mountPath": RESULTS_DIR, "name": "results"}]
    )
    if keep_results_s > 0:
        script = _KEEP_SCRIPT.format(
            results=RESULTS_DIR,
            exit_code=EXIT_CODE_FILE,
            collected=COLLECTED_FILE,
            seconds=keep_results_s,
        )
        container["command"] = ["/bin/sh", "-c", script, "loadkit"]
    results: dict[str, Any] = (
        {"emptyDir": {}}
        if results_pvc is None
        else {"persistentVolumeClaim": {"claimName": results_pvc}}
    )
    spec = pod.pod_spec(container, "Never", [{"name": "results", **results}])
    spec["terminationGracePeriodSeconds"] = 60  # an aborted run still writes its folder
    return container, spec


def _master_job(
    pod: _PodParts,
    args: list[str],
    *,
    cpu: str,
    memory: str,
    deadline_s: int,
    keep_results_s: int,
    results_pvc: str | None,
) -> dict[str, Any]:
    container, spec = job_container(
        pod, "master", args, cpu=cpu, memory=memory, keep_results_s=keep_results_s,
        results_pvc=results_pvc,
    )  # fmt: skip
    container["ports"] = [{"containerPort": MASTER_PORT, "name": "locust", "protocol": "TCP"}]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": pod.metadata(f"{pod.name}-master", "master"),
        "spec": {
            "activeDeadlineSeconds": deadline_s,
            "backoffLimit": 0,  # the exit status is the verdict: never run the test again
            "template": {"metadata": {"labels": pod.labels("master")}, "spec": spec},
        },
    }


def _worker_job(
    pod: _PodParts, args: list[str], *, workers: int, cpu: str, memory: str, deadline_s: int
) -> dict[str, Any]:
    container = pod.container("worker", args, cpu, memory, [])
    # OnFailure: a worker that crashed restarts in its pod and joins the master again.
    spec = pod.pod_spec(container, "OnFailure", [])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": pod.metadata(f"{pod.name}-worker", "worker"),
        "spec": {
            "activeDeadlineSeconds": deadline_s,  # no load outlives the test
            "backoffLimit": workers,
            "completionMode": "Indexed",
            "completions": workers,
            "parallelism": workers,
            "template": {"metadata": {"labels": pod.labels("worker")}, "spec": spec},
        },
    }


def _header(
    name: str,
    namespace: str | None,
    scenario_file: Path,
    workers: int,
    processes: int,
    image: str,
    keep_results_s: int,
    results_pvc: str | None,
    filled: Sequence[str] = (),
    secrets: Sequence[str] = (),
    secret_files: Sequence[str] = (),
    *,
    top: list[str] | None = None,
    component: str = "master",
) -> str:
    """The comment that says how to run, watch and collect it; `top`: other first lines
    (a capacity search's), `component`: the Job that keeps the results."""
    ns = f" -n {namespace}" if namespace else ""
    master = f"app.kubernetes.io/instance={name},app.kubernetes.io/component={component}"
    lines = top or [
        f"# Generated by loadkit {__version__} (`loadkit k8s`) from {scenario_file.as_posix()};",
        "# edit the scenario and generate again rather than editing this file.",
        f"# Run {name!r}: 1 master Job + {workers} worker(s) x {processes} process(es), "
        f"image {image}.",
        f"#   kubectl{ns} apply -f THIS_FILE",
        f"#   kubectl{ns} logs -f job/{name}-master                  # the live summary",
        f"#   kubectl{ns} wait --for=condition=complete job/{name}-master --timeout=2h"
        "   # passed (exit 0)",
        f"#   kubectl{ns} wait --for=condition=failed job/{name}-master --timeout=2h"
        "     # did not pass",
        f"#   kubectl{ns} get pods -l {master} \\",
        "#     -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.exitCode}'",
        "#   (0 pass, 1 thresholds failed, 2 invalid input, 3 aborted, 4 internal error)",
    ]
    if keep_results_s > 0:
        lines += [
            f"# The {'master' if component == 'master' else 'pod'} keeps {RESULTS_DIR}/{name} "
            f"for {keep_results_s}s after the run:",
            f"#   until kubectl{ns} exec job/{name}-{component} -- test -e "
            f"{RESULTS_DIR}/{EXIT_CODE_FILE}; do sleep 10; done",
            f"#   POD=$(kubectl{ns} get pods -l {master} -o name | cut -d/ -f2)",
            f'#   kubectl{ns} cp "$POD:{RESULTS_DIR}/{name}" ./{name}',
            f'#   kubectl{ns} exec "$POD" -- touch {RESULTS_DIR}/{COLLECTED_FILE}'
            "   # the Job ends now",
        ]
    elif results_pvc is not None:
        lines.append(f"# The run folder is {name}/ on the PersistentVolumeClaim {results_pvc}.")
    else:
        lines.append(
            "# The run folder goes when the pod does: add --keep-results-for 15m "
            "(or --results-pvc) to copy it out."
        )
    if filled:  # the master reads the scenario as written, in the pod
        lines.append(
            f"# The pods fill {', '.join('${' + v + '}' for v in filled)} from the Secret(s) "
            f"{', '.join(secrets)}."
        )
    if secret_files:
        lines.append(
            f"# {', '.join(secret_files)}: in the Secret {name}-data, not the ConfigMap "
            f"(mounted at the same path in {SCENARIO_DIR})."
        )
    lines.append(f"#   kubectl{ns} delete -f THIS_FILE    # before applying it again")
    return "\n".join(lines) + "\n"


def _dump(documents: list[dict[str, Any]]) -> str:
    """Sorted keys, block style; multi-line strings (the scenario, CSVs, the keep script) as
    readable `|` blocks, which PyYAML turns into quoted strings where a block could not hold
    the text exactly (trailing spaces, CR LF line ends)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True  # the same labels twice stay written out, not &id001 / *id001

    def represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, represent_str)
    return yaml.dump_all(
        documents,
        Dumper=Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        explicit_start=True,
        width=100,
    )
