"""The scenario model: what a YAML file may say (pydantic), field by field.

Checks that span several keys are in `checks`, pydantic's errors become one-line problems in
`messages`; `loadkit.scenario.load_scenario` is the way in.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from loadkit.apdex import DEFAULT_APDEX_T_MS
from loadkit.scenario import limits, regressions, unset
from loadkit.scenario.datasets import DataTable
from loadkit.scenario.fields import (
    Count,
    Duration,
    Headers,
    Line,
    Model,
    ThresholdSpec,
    TransactionSetting,
    json_compatible,
    short_repr,
)
from loadkit.scenario.load import Load
from loadkit.scenario.observe import Observe
from loadkit.scenario.tasks import TLS, Auth, Defaults, OptionalThinkTime, Step, Task
from loadkit.scenario.unset import UnsetValue


class UserTransactions(Model):
    """Whether the user's on_start and on_stop flows are timed as transactions, and their
    names: a name, true (default: "<user> on_start", "<user> on_stop") or false."""

    on_start: TransactionSetting = None
    on_stop: TransactionSetting = None


class UserSpec(Model):
    name: str = Field(min_length=1)
    weight: Count = Field(default=1, ge=1, le=limits.MAX_WEIGHT)
    think_time: OptionalThinkTime = None
    headers: Headers = Field(default_factory=dict)
    auth: Auth | None = None
    data: str | None = Field(default=None, description="Each user takes one row when it starts.")
    on_start: list[Step] = Field(default_factory=list)
    on_stop: list[Step] = Field(default_factory=list)
    tasks: list[Task] = Field(min_length=1)
    transactions: UserTransactions = UserTransactions()
    trace: bool | None = Field(
        default=None, description="This user's `trace:` (else the scenario's)."
    )

    def flow_transaction(self, which: Literal["on_start", "on_stop"]) -> str | None:
        """The transaction `on_start` or `on_stop` is timed as (None: off, or no such flow)."""
        steps = self.on_start if which == "on_start" else self.on_stop
        setting = getattr(self.transactions, which)
        if not steps or setting is False:
            return None
        return setting if isinstance(setting, str) else f"{self.name} {which}"


class DataSource(Model):
    file: str = Field(description="CSV with a header row, or JSON lines; relative to the scenario.")
    format: Literal["csv", "jsonl"] | None = Field(
        default=None, description="Default: from the file name (.csv, .jsonl/.ndjson)."
    )
    order: Literal["sequential", "random", "unique"] = "sequential"
    on_exhausted: Literal["cycle", "stop_user", "fail"] | None = Field(
        default=None,
        description="When no row is left: default cycle (sequential) or stop_user (unique).",
    )
    secret: bool = Field(
        default=False,
        description="The file holds secrets (e.g. passwords): `loadkit k8s` ships it in a "
        "Kubernetes Secret, not the ConfigMap.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> DataSource:
        if self.order == "unique" and self.on_exhausted == "cycle":
            raise ValueError("unique rows cannot cycle; use on_exhausted: stop_user or fail")
        if self.order == "random" and self.on_exhausted not in (None, "cycle"):
            raise ValueError("random order never runs out of rows; remove on_exhausted")
        if self.format is None and not self.file.endswith((".csv", ".jsonl", ".ndjson")):
            raise ValueError("cannot tell the format from the file name; add format: csv or jsonl")
        return self

    @property
    def file_format(self) -> str:
        return self.format or ("csv" if self.file.endswith(".csv") else "jsonl")

    @property
    def exhausted_action(self) -> str:
        if self.on_exhausted is not None:
            return self.on_exhausted
        return "stop_user" if self.order == "unique" else "cycle"


class Include(Model):
    """User classes taken as they are from an existing locustfile."""

    locustfile: str = Field(description="Path relative to the scenario.")
    users: list[str] = Field(min_length=1, description="Class names to include.")

    @field_validator("users")
    @classmethod
    def _identifiers(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name.isidentifier():
                raise ValueError(f"{name!r} is not a Python class name")
        return value


class ApdexConfig(Model):
    """Apdex target time T: satisfied <= T, tolerating <= 4T, frustrated above (or failed)."""

    t: Duration = Field(
        default=DEFAULT_APDEX_T_MS / 1000, description="T for all requests (default 500ms)."
    )
    requests: dict[str, Duration] = Field(
        default_factory=dict, description="T for single request names."
    )
    transactions: dict[str, Duration] = Field(
        default_factory=dict, description="T for single transactions (default: t)."
    )

    @field_validator("t")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("T must be more than 0, e.g. 300ms")
        return value

    @field_validator("requests", "transactions")
    @classmethod
    def _each_positive(cls, value: dict[str, float]) -> dict[str, float]:
        for name, t in value.items():
            if t <= 0:
                raise ValueError(f"T of {short_repr(name)} must be more than 0, e.g. 300ms")
        return value


class Files(Model):
    """Which folders, besides the scenario's own, its data, tls and include files may be in.
    Whatever those files hold can end up in the locustfile, the run folder and CI artifacts,
    so a file elsewhere has to be allowed here, in the open, where a reviewer sees it."""

    allow_outside: list[str] = Field(
        default_factory=list,
        description="Folders outside the scenario's folder (relative to it, or absolute) "
        "whose files data, tls and include may name.",
    )


class Scenario(Model):
    name: str = Field(
        min_length=1, description="Also names the run folder: at most 100 characters."
    )
    description: str | None = None
    host: Line = Field(description="Base URL of the system under test, e.g. http://127.0.0.1:8080.")
    load: Load
    defaults: Defaults = Defaults()
    tls: TLS = TLS()
    variables: dict[str, Annotated[Any, BeforeValidator(json_compatible)]] = Field(
        default_factory=dict, description="Constants usable as {{ name }}."
    )
    secrets: list[str] = Field(
        default_factory=list,
        description="Environment variables whose values are secret: read at run time, masked.",
    )
    data: dict[str, DataSource] = Field(default_factory=dict)
    users: list[UserSpec] = Field(default_factory=list)
    include: list[Include] = Field(default_factory=list)
    thresholds: list[ThresholdSpec] = Field(default_factory=list)
    observe: Observe | None = Field(
        default=None, description="The system under test's metrics, asked of Prometheus."
    )
    apdex: ApdexConfig = ApdexConfig()
    max_regression: dict[str, str] = Field(
        default_factory=dict,
        description="For `loadkit compare`: how much worse a metric may get, e.g. {p95: 10%}; "
        "floor: 1ms and floor_of_threshold: 2% (a smaller change never regresses).",
    )
    files: Files = Files()
    trace: bool = Field(
        default=False,
        description="A W3C traceparent header (a new trace) on every request; the report lists "
        "the slowest requests' trace ids.",
    )

    _tables: dict[str, DataTable] = PrivateAttr(default_factory=dict)
    _base_dir: Path = PrivateAttr(default=Path("."))
    _secret_values: dict[str, str] = PrivateAttr(default_factory=dict)
    _unset: list[UnsetValue] = PrivateAttr(default_factory=list)
    _ca_certificates: str | None = PrivateAttr(default=None)
    _outside_folders: list[Path] = PrivateAttr(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name_fits_a_folder(cls, value: str) -> str:
        if len(value) > limits.MAX_NAME_LENGTH:
            raise ValueError(
                f"is {len(value)} characters long; the run folder is named after it, so give "
                f"at most {limits.MAX_NAME_LENGTH} (put the rest in description)"
            )
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or "{{" in value:
            raise ValueError(f"expected a URL like http://127.0.0.1:8080, got {value!r}")
        return value.rstrip("/")

    @field_validator("variables", "data")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"name {name!r} must be letters, digits and _ (not first a digit)")
        return value

    @field_validator("max_regression", mode="before")
    @classmethod
    def _regressions(cls, value: object) -> object:
        if isinstance(value, dict):
            regressions.parse_regressions(value)  # ValueError: a one-line problem
            return {k: str(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _some_users(self) -> Scenario:
        if not self.users and not self.include:
            raise ValueError("give at least one entry in users (or include a locustfile)")
        return self

    @property
    def tables(self) -> dict[str, DataTable]:
        """Rows of every data source, read when the scenario was loaded."""
        return self._tables

    @property
    def base_dir(self) -> Path:
        """The scenario file's folder: data files, includes and python tasks are relative to it."""
        return self._base_dir

    @property
    def ca_certificates(self) -> str | None:
        """The PEM text of `tls.ca_bundle`, read when the scenario was loaded."""
        return self._ca_certificates

    @property
    def secret_values(self) -> list[str]:
        """Values of the secret environment variables, to mask in every artifact."""
        return list(self._secret_values.values())

    @property
    def secret_names(self) -> list[str]:
        """Names of the secret environment variables the scenario reads (never their values),
        set or not (`unset`)."""
        return sorted({*self._secret_values, *unset.names(self._unset, secret=True)})

    @property
    def unset(self) -> list[UnsetValue]:
        """Each use of a variable or secret that was not set when the file was read (only
        when it was read with `allow_unset`): the command decides what that means."""
        return list(self._unset)

    def transaction_names(self) -> list[str]:
        """Every transaction the generated users time, in scenario order, without repeats."""
        seen: dict[str, None] = {}
        for user in self.users:
            names = [
                user.flow_transaction("on_start"),
                *(t.transaction_name() for t in user.tasks),
                user.flow_transaction("on_stop"),
            ]
            for name in names:
                if name is not None:
                    seen.setdefault(name)
        return list(seen)

    def request_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for user in self.users:
            steps = [*user.on_start, *(s for t in user.tasks for s in t.steps()), *user.on_stop]
            for step in steps:
                seen.setdefault(step.request.stats_name)
        return list(seen)
