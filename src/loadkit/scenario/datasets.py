"""Test data files (CSV with a header row, or JSON lines) read at load time.

Rows are embedded in the generated locustfile, so a worker that receives the locustfile from
the master (`locust --worker -f -`) has the data too, and a run folder is self-contained.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from loadkit.scenario.files import read_bounded
from loadkit.scenario.limits import MAX_DATA_BYTES


@dataclass(frozen=True)
class DataTable:
    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]


def read_table(path: Path, fmt: str) -> DataTable:
    """Raises ValueError with a message fit for the user (without the file's location)."""
    try:
        data = read_bounded(
            path,
            f"data file {str(path)!r}",
            MAX_DATA_BYTES,
            "its rows are embedded in the locustfile every worker receives: use fewer rows",
        )
        text = data.decode("utf-8-sig")
    except FileNotFoundError:
        raise ValueError(
            f"data file {str(path)!r} not found; paths are relative to the scenario"
        ) from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"cannot read data file {str(path)!r}: {exc}") from None
    table = _read_csv(text, path) if fmt == "csv" else _read_jsonl(text, path)
    if not table.rows:
        raise ValueError(f"data file {str(path)!r} has no rows")
    return table


def _read_csv(text: str, path: Path) -> DataTable:
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header or any(not h.strip() for h in header):
        raise ValueError(f"data file {str(path)!r} needs a header row naming every column")
    columns = tuple(h.strip() for h in header)
    if len(set(columns)) != len(columns):
        raise ValueError(f"data file {str(path)!r} repeats a column name in its header")
    rows = []
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(columns):
            raise ValueError(
                f"data file {str(path)!r} line {number} has {len(row)} values for "
                f"{len(columns)} columns"
            )
        rows.append(tuple(row))
    return DataTable(columns, tuple(rows))


def _read_jsonl(text: str, path: Path) -> DataTable:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"data file {str(path)!r} line {number} is not JSON: {exc}") from None
        if not isinstance(record, dict):
            raise ValueError(f"data file {str(path)!r} line {number} must be a JSON object")
        records.append(record)
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    names = tuple(columns)
    return DataTable(names, tuple(tuple(r.get(c) for c in names) for r in records))
