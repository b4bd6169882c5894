"""The files a scenario names (data, TLS, included locustfiles): inside the scenario's folder
unless `files: {allow_outside: [...]}` names another folder, regular files only, read with a
bound on their size.

Whatever a data file or CA bundle holds is embedded in the generated locustfile, which goes to
the run folder, to CI artifacts and to every worker: `../../etc/passwd` must not get there
unless the scenario says so, where a reviewer sees it. A FIFO or a device (`/dev/zero`) would
block or never end; they are refused before they are opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from loadkit.scenario.limits import format_bytes


def resolve_inside(base_dir: Path, name: str, allowed: Sequence[Path], what: str) -> Path:
    """`name` (relative to the scenario's folder) with symlinks and `..` resolved.

    Raises ValueError with a message fit for the user when it lies outside the scenario's
    folder and every allowed folder (themselves already resolved).
    """
    if "\x00" in name:
        raise ValueError(f"{what} holds a NUL character; give a file name")
    try:
        resolved = (base_dir / name).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise ValueError(f"cannot resolve {what}: {_reason(exc)}") from None
    folder = base_dir.resolve()
    if any(resolved.is_relative_to(root) for root in (folder, *allowed)):
        return resolved
    raise ValueError(
        f"{what} resolves to {str(resolved)!r}, outside the scenario's folder {str(folder)!r}; "
        "move it into the folder, or allow its folder explicitly: "
        f"files: {{allow_outside: [{resolved.parent}]}}"
    )


def read_bounded(path: Path, what: str, limit: int, fix: str) -> bytes:
    """The bytes of a regular file of at most `limit` bytes.

    Raises FileNotFoundError (each caller says where paths are relative to), or ValueError with
    a message fit for the user: not a regular file, larger than `limit` (then `fix` says what to
    do), unreadable.
    """
    try:
        _check_kind(os.stat(path), what)
        # Stat first, so a FIFO or a device is never opened; O_NONBLOCK in case it was swapped in.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        if isinstance(exc, _NotRegular):
            raise ValueError(str(exc)) from None
        raise ValueError(f"cannot read {what}: {_reason(exc)}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        try:
            _check_kind(info, what)
        except _NotRegular as exc:
            raise ValueError(str(exc)) from None
        if info.st_size > limit:
            raise ValueError(_too_big(what, info.st_size, limit, fix))
        try:
            data = file.read(limit + 1)  # a file may grow, and /proc files say they are empty
        except OSError as exc:
            raise ValueError(f"cannot read {what}: {_reason(exc)}") from None
    if len(data) > limit:
        raise ValueError(_too_big(what, len(data), limit, fix, more=True))
    return data


class _NotRegular(ValueError):
    pass


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _check_kind(info: os.stat_result, what: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise _NotRegular(f"{what} is {kind}, not a regular file; give a file")


def _too_big(what: str, size: int, limit: int, fix: str, *, more: bool = False) -> str:
    size_text = "" if more else f" ({format_bytes(size)})"
    return f"{what} is larger than {format_bytes(limit)}{size_text}; {fix}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
