"""The history's tables and their versions.

Version 1 (loadkit's first history) held the runs only. Version 2 adds each run's capacity,
the per-request metrics and the pinned baselines. `migrate` brings any older database to
`SCHEMA_VERSION` inside one transaction that holds the database's write lock, so two jobs
that open a new or old history at once migrate it once.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
)

SCHEMA_VERSION = 2

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False, unique=True),
    Column("recorded_at", Float, nullable=False),
    Column("scenario", String(200), nullable=False, index=True),
    Column("scenario_hash", String(64), nullable=True),
    Column("git_commit", String(64), nullable=True),
    Column("git_branch", String(200), nullable=True),
    Column("host", String(500), nullable=False),
    Column("load_key", String(500), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("p95_ms", Float, nullable=True),
    Column("error_rate", Float, nullable=True),
    Column("throughput_rps", Float, nullable=True),
    Column("apdex", Float, nullable=True),
    Column("capacity_rps", Float, nullable=True),  # version 2
    Column("folder", Text, nullable=False),
    # The whole `RunRecord` as JSON: what the columns above index, and the rest.
    Column("data", Text, nullable=False),
)

request_metrics = Table(  # version 2
    "request_metrics",
    metadata,
    Column("run_id", String(64), nullable=False, index=True),
    Column("method", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("requests", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("error_rate", Float, nullable=True),
    Column("rps", Float, nullable=True),
    Column("p50_ms", Float, nullable=True),
    Column("p90_ms", Float, nullable=True),
    Column("p95_ms", Float, nullable=True),
    Column("p99_ms", Float, nullable=True),
    Column("corrected_p95_ms", Float, nullable=True),
    Column("corrected_p99_ms", Float, nullable=True),
    Column("apdex", Float, nullable=True),
)

pins = Table(  # version 2
    "pins",
    metadata,
    Column("scenario", String(200), primary_key=True),
    # "" pins the scenario's baseline for every branch without a pin of its own.
    Column("branch", String(200), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("pinned_at", Float, nullable=False),
)


def current_version(conn: Connection) -> int:
    """0 for an empty database."""
    if not inspect(conn).has_table(schema_version.name):
        return 0
    found = conn.execute(select(schema_version.c.version)).scalar()
    return int(found) if found is not None else 0


def _create(conn: Connection) -> None:
    metadata.create_all(conn)
    conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))


def _v1_to_v2(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE runs ADD COLUMN capacity_rps FLOAT"))
    request_metrics.create(conn)
    pins.create(conn)


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1_to_v2}
"""From version N to N + 1."""


class NewerSchema(Exception):
    """The database was written by a newer loadkit."""


def migrate(conn: Connection) -> int:
    """Bring the database to SCHEMA_VERSION (the caller holds the transaction and the write
    lock); the version it had."""
    found = current_version(conn)
    if found == 0:
        _create(conn)
        return 0
    if found > SCHEMA_VERSION:
        raise NewerSchema(
            f"its schema is version {found}, newer than this loadkit's {SCHEMA_VERSION}; "
            "upgrade loadkit"
        )
    for version in range(found, SCHEMA_VERSION):
        MIGRATIONS[version](conn)
    if found < SCHEMA_VERSION:
        conn.execute(schema_version.update().values(version=SCHEMA_VERSION))
    return found
