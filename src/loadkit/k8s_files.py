"""The files a Kubernetes run ships (`k8s`): the scenario and every file it names, as
ConfigMap (or, for secret data, Secret) items under one folder."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from loadkit.errors import UsageError

if TYPE_CHECKING:
    from loadkit.scenario import Scenario

__all__ = ["ALL_DATA", "CONFIGMAP_LIMIT_BYTES", "ShippedFile", "shipped_files"]

CONFIGMAP_LIMIT_BYTES = 1024 * 1024  # what the API server accepts in one ConfigMap
_CONFIGMAP_KEY = re.compile(r"[^-._a-zA-Z0-9]")


@dataclass(frozen=True)
class ShippedFile:
    """A file the scenario needs, as it goes into the ConfigMap."""

    path: str  # relative to the scenario's folder, with /
    key: str  # the ConfigMap's (or Secret's) key (no / allowed there)
    text: str  # exactly the file's bytes, as UTF-8
    secret: bool = False  # a data file holding secrets: shipped in a Secret


ALL_DATA = "*"
"""`--data-secret '*'`: every data file goes into the Secret."""


def shipped_files(
    scenario_file: Path, scenario: Scenario, data_secrets: Sequence[str] = ()
) -> list[ShippedFile]:
    """The scenario file and every file it names, read as bytes, in a stable order; data
    files marked `secret: true`, or named in `data_secrets`, are to go into a Secret."""
    base = scenario.base_dir
    named: dict[str, str] = {scenario_file.name: "the scenario"}
    secret = _secret_data_files(scenario, data_secrets)
    for data_name, source in sorted(scenario.data.items()):
        named.setdefault(source.file, f"data.{data_name}.file")
    if scenario.tls.ca_bundle is not None:
        named.setdefault(scenario.tls.ca_bundle, "tls.ca_bundle")
    for include in scenario.include:
        named.setdefault(include.locustfile, "include[].locustfile")
    for module in sorted(
        {t.python.split(":")[0] for u in scenario.users for t in u.tasks if t.python}
    ):
        for relative in _module_files(base, module):
            named.setdefault(relative, f"python task module {module}")
    if scenario.tls.client_cert is not None or scenario.tls.client_key is not None:
        raise UsageError(
            "tls.client_cert / tls.client_key: loadkit k8s does not ship client certificates "
            "(a private key does not belong in a ConfigMap); run without mutual TLS, or mount "
            "a Secret at the same path in master and workers by editing the manifests"
        )
    files: list[ShippedFile] = []
    keys: set[str] = set()
    for relative, what in sorted(named.items()):
        path = (base / relative).resolve()
        try:
            inside = path.relative_to(base.resolve())
        except ValueError:
            raise UsageError(
                f"{what}: {relative} is outside the scenario's folder {base}; loadkit k8s "
                "ships that folder's files only: move the file next to the scenario"
            ) from None
        posix = PurePosixPath(*inside.parts).as_posix()
        key = _configmap_key(posix, keys)
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{what}: {relative} is not UTF-8 text") from None
        except OSError as exc:  # e.g. named by a variable that is not set here
            raise UsageError(f"{what}: cannot read {relative}: {exc.strerror}") from None
        files.append(ShippedFile(posix, key, text, relative in secret))
    for in_secret, kind in ((False, "ConfigMap"), (True, "Secret")):
        size = sum(len(f.text.encode("utf-8")) for f in files if f.secret == in_secret)
        if size > CONFIGMAP_LIMIT_BYTES:
            what = "the secret data files" if in_secret else "the scenario and its files"
            raise UsageError(
                f"{what} take {size:,} bytes; a {kind} holds at most "
                f"{CONFIGMAP_LIMIT_BYTES:,} (1 MiB): use smaller test data"
            )
    return files


def _secret_data_files(scenario: Scenario, data_secrets: Sequence[str]) -> set[str]:
    """The files (as the scenario names them) of the data sources that go into a Secret."""
    from loadkit.errors import did_you_mean

    for name in data_secrets:
        if name != ALL_DATA and name not in scenario.data:
            known = sorted(scenario.data)
            listing = ", ".join(known) if known else "none"
            raise UsageError(
                f"--data-secret {name!r}: no data source has that name"
                f"{did_you_mean(name, known)} (data sources: {listing}; '{ALL_DATA}': all)"
            )
    chosen = set(data_secrets)
    return {
        source.file
        for name, source in scenario.data.items()
        if source.secret or name in chosen or ALL_DATA in chosen
    }


def _module_files(base: Path, module: str) -> Iterable[str]:
    """`flows.checkout` -> flows/__init__.py (if there) and flows/checkout.py (or its package).
    A module not found next to the scenario is taken to be installed in the image."""
    parts = module.split(".")
    for depth in range(1, len(parts) + 1):
        folder = "/".join(parts[:depth])
        for candidate in (f"{folder}/__init__.py", f"{folder}.py"):
            if (base / candidate).is_file():
                yield candidate


def _configmap_key(path: str, taken: set[str]) -> str:
    key = _CONFIGMAP_KEY.sub("_", path.replace("/", "__"))
    unique, number = key, 2
    while unique in taken:
        unique, number = f"{key}-{number}", number + 1
    taken.add(unique)
    return unique
