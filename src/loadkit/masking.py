"""Secrets never reach an artifact: every text file of a run folder is masked after the run."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

MASK = "***"


def mask_text(text: str, secrets: Iterable[str]) -> str:
    # Longest first, so a secret that contains another is masked whole.
    for value in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def mask_folder(folder: Path, secrets: Iterable[str]) -> list[Path]:
    """Rewrite every file below `folder` that contains a secret; returns the files changed.
    Files are read as bytes so binary files (PNG charts) are checked too."""
    values = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not values:
        return []
    changed = []
    encoded = [(v.encode(), MASK.encode()) for v in values]
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        masked = data
        for value, mask in encoded:
            masked = masked.replace(value, mask)
        if masked != data:
            path.write_bytes(masked)
            changed.append(path)
    return changed
