"""Secrets → `***`, without breaking what they are masked in.

Masking happens where text is produced: inside the Locust process the harness masks log
records, printed output, statistics names, failure messages and exceptions before anything is
stored or written (`Secrets.mask`), and `loadkit run` masks its terminal output. `mask_folder`
is the second line of defence, a last pass over the run folder: it masks JSON only inside
strings and CSV only inside cells, so both stay parseable, and never touches a binary file.

A secret must be at least `MIN_SECRET_LENGTH` characters long (checked when the scenario is
loaded): a short value occurs by chance in numbers, hosts and timestamps, so masking it would
corrupt reports, and the masked output would give the value away (`http://***27.0.0.***`).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MASK = "***"
MIN_SECRET_LENGTH = 8
"""Shorter secret values are refused: see the module's docstring. Eight characters, the usual
minimum for a password (NIST SP 800-63B), rarely occur by chance in a report."""
TOO_SHORT = (
    f"shorter than {MIN_SECRET_LENGTH} characters, too short to be masked safely in logs and "
    "reports; use a longer value"
)
"""Why a secret is refused (never with its value, nor its length): one wording everywhere."""

_BINARY_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".pdf", ".gz", ".zip"})
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


class Secrets:
    """The values to mask, each also as JSON and HTML write it (quotes, backslashes,
    non-ASCII characters escaped), longest first so a secret containing another is masked
    whole."""

    def __init__(self, values: Iterable[str]) -> None:
        forms = set()
        for value in values:
            if value:
                forms |= {value, json.dumps(value)[1:-1], html.escape(value)}
        self.forms: tuple[str, ...] = tuple(sorted(forms, key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self.forms)

    def found_in(self, text: str) -> bool:
        return any(form in text for form in self.forms)

    def mask(self, text: str) -> str:
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def mask_json(self, value: Any) -> Any:
        """A copy of a JSON value with its strings (keys too) masked; numbers stay numbers."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {self.mask(str(k)): self.mask_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mask_json(v) for v in value]
        return value


def mask_text(text: str, secrets: Iterable[str]) -> str:
    return Secrets(secrets).mask(text)


def mask_folder(folder: Path, secrets: Iterable[str]) -> list[Path]:
    """Mask every file below `folder` that contains a secret; returns the files changed.

    JSON is loaded, masked inside its strings and written back in the layout it had (indented
    or compact); CSV is masked cell by cell, except cells that are numbers (a secret found in
    a number is a coincidence, and masking it would corrupt the figure); other text files as
    text. Files that are not UTF-8 text (PNG charts) are left as they are."""
    masks = Secrets(secrets)
    if not masks:
        return []
    changed = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() in _BINARY_SUFFIXES:
            continue
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue  # not text
        if "\x00" in text or not masks.found_in(text):
            continue
        if path.suffix == ".json":
            masked = _masked_json(text, masks)
        elif path.suffix == ".csv":
            masked = _masked_csv(text, masks)
        else:
            masked = masks.mask(text)
        if masked != text:
            path.write_bytes(masked.encode("utf-8"))
            changed.append(path)
    return changed


def _masked_json(text: str, masks: Secrets) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        return masks.mask(text)  # not JSON after all (a file cut short): mask it as text
    masked = masks.mask_json(document)
    if masked == document:  # the secret was only part of a number
        return text
    # The layouts loadkit and Locust write: summary.json indented, the rest compact.
    for layout in ({"indent": 2}, {}, {"separators": (",", ":")}):
        if json.dumps(document, **layout) == text.rstrip("\n"):
            return json.dumps(masked, **layout) + text[len(text.rstrip("\n")) :]
    return json.dumps(masked, indent=2) + "\n"


def _masked_csv(text: str, masks: Secrets) -> str:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    masked = [[_masked_cell(cell, masks) for cell in row] for row in rows]
    if masked == rows:  # the secret was only part of a number
        return text
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n" if "\r\n" in text else "\n").writerows(masked)
    return out.getvalue()


def _masked_cell(cell: str, masks: Secrets) -> str:
    return cell if _NUMBER.fullmatch(cell) else masks.mask(cell)
