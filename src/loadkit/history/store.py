"""`HistoryStore`: the one door to the history database.

SQLite (a file, nothing to install) or PostgreSQL (a team's, by URL), through SQLAlchemy Core
and psycopg 3. Concurrent writers (two CI jobs): SQLite in WAL mode, every transaction begun
IMMEDIATE (it takes the write lock first) with a 30 s busy timeout, and tried again where SQLite
answers SQLITE_BUSY without waiting (`HistoryStore._write`); PostgreSQL in transactions, the
migration under an advisory lock. A URL's password is a secret: `masked_url` is the only
form of it any message holds, and every error is a `HistoryUnavailable` whose text is masked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from loadkit.history import schema
from loadkit.history.record import RunRecord

DEFAULT_FILE = "history.db"
"""The default history: this file in the reports directory (`--reports-dir`, ./reports)."""
HISTORY_ENV = "LOADKIT_HISTORY"
BUSY_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5
_PG_MIGRATION_LOCK = 0x6C6F61646B6974  # "loadkit": one advisory lock id for the migration


class HistoryUnavailable(Exception):
    """The history cannot be read or written; the message is one line, its password masked."""

    def __init__(self, message: str, *, busy: bool = False) -> None:
        super().__init__(message)
        self.busy = busy
        """SQLite's SQLITE_BUSY: another writer held the file (`HistoryStore._write` retries)."""


def default_url(reports_dir: Path) -> str:
    return f"sqlite:///{(reports_dir / DEFAULT_FILE).resolve()}"


def masked_url(url: str) -> str:
    """The URL with its password as ***; a text that is no URL is hidden whole."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "***"


def _password(url: str) -> str | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        password = make_url(url).password
        return None if password is None else str(password)
    except ArgumentError:
        return None


class HistoryStore:
    """A history database, opened (and migrated) by `open`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = masked_url(url)
        self._engine = _engine(url)

    @classmethod
    def open(cls, url: str) -> HistoryStore:
        store = cls(url)

        def migrate(conn: Any) -> None:
            if conn.dialect.name == "postgresql":
                from sqlalchemy import text

                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_MIGRATION_LOCK})
            schema.migrate(conn)

        store._write(migrate)
        return store

    def _write(self, work: Callable[[Any], None]) -> None:
        """`work` in one write transaction. SQLite may answer SQLITE_BUSY at once,
        without its busy timeout, where waiting could deadlock (two processes switching a new
        file to WAL, a read lock to upgrade): the whole transaction is then tried again, for
        up to BUSY_TIMEOUT_S. Every write here is one transaction, so nothing is half done."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                with self._transaction() as conn:
                    work(conn)
                return
            except HistoryUnavailable as exc:
                if not exc.busy or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self._engine.begin() as conn:
                yield conn
        except schema.NewerSchema as exc:
            raise HistoryUnavailable(f"history {self.where}: {exc}") from None
        except SQLAlchemyError as exc:
            raise HistoryUnavailable(
                f"history {self.where}: {self._reason(exc)}", busy=_sqlite_busy(exc)
            ) from None
        except OSError as exc:
            raise HistoryUnavailable(f"history {self.where}: {exc.strerror or exc}") from None

    def _reason(self, exc: Exception) -> str:
        """The driver's first line, never the password (psycopg may quote the DSN)."""
        cause = getattr(exc, "orig", None) or exc
        text = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        password = _password(self.url)
        if password:
            text = text.replace(password, "***")
        return text

    def append(self, record: RunRecord) -> None:
        row = {c: record[c] for c in _RUN_COLUMNS}  # type: ignore[literal-required]
        row["data"] = json.dumps(record)

        def insert(conn: Any) -> None:
            conn.execute(schema.runs.insert().values(**row))
            if record["per_request"]:
                conn.execute(
                    schema.request_metrics.insert(),
                    [{"run_id": record["run_id"], **m} for m in record["per_request"]],
                )

        self._write(insert)

    def runs(
        self,
        *,
        scenario: str | None = None,
        branch: str | None = None,
        verdict: str | None = None,
        host: str | None = None,
        load_key: str | None = None,
        limit: int = 50,
    ) -> list[RunRecord]:
        """The newest first."""
        from sqlalchemy import select

        t = schema.runs
        query = select(t.c.data).order_by(t.c.recorded_at.desc(), t.c.id.desc()).limit(limit)
        for column, value in (
            (t.c.scenario, scenario),
            (t.c.git_branch, branch),
            (t.c.verdict, verdict),
            (t.c.host, host),
            (t.c.load_key, load_key),
        ):
            if value is not None:
                query = query.where(column == value)
        with self._transaction() as conn:
            return [cast(RunRecord, json.loads(data)) for data in conn.execute(query).scalars()]

    def count(self) -> int:
        from sqlalchemy import func, select

        with self._transaction() as conn:
            return int(conn.execute(select(func.count()).select_from(schema.runs)).scalar() or 0)

    def get(self, run_id: str) -> RunRecord | None:
        """The run whose id is `run_id` or starts with it (when only one does)."""
        from sqlalchemy import select

        t = schema.runs
        query = select(t.c.data).where(t.c.run_id.startswith(run_id, autoescape=True)).limit(2)
        with self._transaction() as conn:
            found = list(conn.execute(query).scalars())
        return cast(RunRecord, json.loads(found[0])) if len(found) == 1 else None

    def pin(self, record: RunRecord, branch: str | None) -> None:
        from sqlalchemy import delete

        p = schema.pins
        key = {"scenario": record["scenario"], "branch": branch or ""}

        def replace_pin(conn: Any) -> None:
            same = (p.c.scenario == key["scenario"], p.c.branch == key["branch"])
            conn.execute(delete(p).where(*same))
            conn.execute(p.insert().values(**key, run_id=record["run_id"], pinned_at=time.time()))

        self._write(replace_pin)

    def pinned(self, scenario: str, branch: str | None) -> RunRecord | None:
        """The baseline pinned for the branch, else the one pinned for every branch."""
        from sqlalchemy import select

        p = schema.pins
        with self._transaction() as conn:
            rows = conn.execute(
                select(p.c.branch, p.c.run_id).where(p.c.scenario == scenario)
            ).all()
        by_branch = {b: run_id for b, run_id in rows}
        run_id = by_branch.get(branch or "") or by_branch.get("")
        return self.get(run_id) if run_id else None


_RUN_COLUMNS: Sequence[str] = tuple(
    c.name for c in schema.runs.columns if c.name not in ("id", "data")
)


def _sqlite_busy(exc: Exception) -> bool:
    """Whether the driver's error is SQLITE_BUSY (its primary code: extended ones such as
    SQLITE_BUSY_RECOVERY included)."""
    import sqlite3

    code = getattr(getattr(exc, "orig", None), "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_BUSY


def _engine(url: str) -> Any:
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise HistoryUnavailable(
            "history ***: not a database URL; write sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST/DB"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, not psycopg2
    where = masked_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HistoryUnavailable(f"history {where}: {exc.strerror or exc}") from None
        engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
            # The driver's own transaction handling off: SQLAlchemy's "begin" below opens
            # each one IMMEDIATE, so a writer waits for the lock at the start (busy timeout)
            # instead of failing on an upgrade from a read lock halfway through.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    try:
        return create_engine(
            parsed,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
            pool_pre_ping=True,
        )
    except (ArgumentError, NoSuchModuleError) as exc:
        raise HistoryUnavailable(f"history {where}: {exc}") from None
