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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loadkit.scenario.limits import format_bytes


@dataclass(frozen=True)
class FileUse:
    """One way reading a scenario depended on the file system: `kind` "read" (the bytes of
    `path`, `result` their SHA-256), "resolve" (`path` resolved to `result`), "is_file" or
    "is_dir" (`result` "True" or "False"). The run cache replays these to know that reading
    the scenario again would come out the same (`loadkit.run_cache`)."""

    kind: str
    path: str
    result: str
    stat: tuple[int, int, int, int] | None = None
    """A read file's size, modification and change times (ns) and inode, as it was read."""


_uses: list[FileUse] | None = None


@contextmanager
def recording() -> Iterator[list[FileUse]]:
    """Every use of the file system by the functions below, while the block runs."""
    global _uses
    previous, _uses = _uses, []
    try:
        yield _uses
    finally:
        _uses = previous


def _record(
    kind: str, path: Path | str, result: str, stat: tuple[int, int, int, int] | None = None
) -> None:
    if _uses is not None:
        _uses.append(FileUse(kind, os.path.abspath(path), result, stat))


def resolved(path: Path) -> Path:
    """`path.resolve()`, recorded. Raises what it raises (OSError, RuntimeError, ValueError)."""
    result = path.resolve()
    _record("resolve", path, str(result))
    return result


def is_file(path: Path) -> bool:
    found = path.is_file()
    _record("is_file", path, str(found))
    return found


def is_dir(path: Path) -> bool:
    found = path.is_dir()
    _record("is_dir", path, str(found))
    return found


def resolve_inside(base_dir: Path, name: str, allowed: Sequence[Path], what: str) -> Path:
    """`name` (relative to the scenario's folder) with symlinks and `..` resolved.

    Raises ValueError with a message fit for the user when it lies outside the scenario's
    folder and every allowed folder (themselves already resolved).
    """
    if "\x00" in name:
        raise ValueError(f"{what} holds a NUL character; give a file name")
    try:
        result = resolved(base_dir / name)
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise ValueError(f"cannot resolve {what}: {_reason(exc)}") from None
    folder = resolved(base_dir)
    if any(result.is_relative_to(root) for root in (folder, *allowed)):
        return result
    raise ValueError(
        f"{what} resolves to {str(result)!r}, outside the scenario's folder {str(folder)!r}; "
        "move it into the folder, or allow its folder explicitly: "
        f"files: {{allow_outside: [{result.parent}]}}"
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
    if _uses is not None:
        import hashlib

        # The file as it was when read: a later write changes its times, so it is not
        # taken for the bytes read here.
        when = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
        _record("read", path, hashlib.sha256(data).hexdigest(), when)
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
