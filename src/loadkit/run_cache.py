"""The run cache: how `loadkit run` starts Locust before it has validated the scenario.

Reading a scenario costs about 0.3 s of CPU (pydantic, the model, YAML, the compiler) before
Locust can be told what to run. On one core that adds to Locust's own start-up. What `loadkit
run` hands Locust (the locustfile, its arguments and environment, the live thresholds) is a
pure function of its inputs, so the second run of the same scenario with the same options
takes it from here: the Locust process gets its command after ~0.1 s, and the scenario is
validated (for the summary, the masking, the verdict) while Locust runs.

An entry is found by a key over everything read before the scenario's own references are
known: the scenario's text, its path (as given and absolute), the command line options, and
the code that turns them into the command (loadkit's version and source files, Python,
pydantic and PyYAML). It then holds what else reading the scenario depended on, each checked
again before the entry is used:

- every file it read, resolved or tested (data files, CA bundles and client certificates,
  included locustfiles, allowed folders, the scenario's own path): a read file by its size,
  times and inode, or, when those changed, by the SHA-256 of its bytes; a resolved path by
  what it resolves to now; an existence test by its answer now;
- every environment variable it looked up, set or not (`${VAR}`, secrets, `{{ env.NAME }}`
  templates): only their names and one keyed hash (HMAC-SHA256 with a random key of this cache)
  of all their values together, so that a secret's value cannot be guessed one variable at a
  time. (A plain `${VAR}`'s value is in the stored locustfile, as it is in the run folder's.)

An entry is written only after the scenario validated and the run was planned, so a hit means
the same inputs already read cleanly: invalid scenarios are always reported by the full path,
exactly as without the cache. What an entry holds never contains a secret's value: secrets
enter the locustfile as `os.environ[...]` reads; an entry that would hold one anyway is not
written. Location: `$LOADKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/loadkit`, else
`~/.cache/loadkit`; `LOADKIT_NO_CACHE=1` turns it off. The newest `MAX_ENTRIES` are kept.

Only the standard library here: this module runs before Locust has its command.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadkit import __version__
from loadkit.run_folder import RunFolder

if TYPE_CHECKING:
    from loadkit.launcher import LocustProcess

DISABLE_ENV = "LOADKIT_NO_CACHE"
DIR_ENV = "LOADKIT_CACHE_DIR"
MAX_ENTRIES = 64
"""Entries kept (the newest); each is about the size of its locustfile."""
FORMAT = 1
FOLDER_TOKEN = "\x00run-folder\x00"
"""Stands for the run folder's path in the stored command: each run has a new folder."""
MAX_SCENARIO_BYTES = 4 * 1024 * 1024
"""Larger scenarios are not looked up here (the full path reports their size)."""
_DEPENDENCIES = ("pydantic", "pydantic_core", "yaml")
"""Packages whose version changes what a scenario validates to."""


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where entries go; None when the cache is turned off."""
    env = os.environ if environ is None else environ
    if env.get(DISABLE_ENV, "") not in ("", "0"):
        return None
    if env.get(DIR_ENV):
        return Path(env[DIR_ENV])
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "loadkit"


@dataclass(frozen=True)
class Launch:
    """What `loadkit run` gives Locust, the run folder's path as `FOLDER_TOKEN`."""

    scenario_name: str
    locustfile: str
    live_config: str
    argv: list[str]
    env: dict[str, str]
    python_path: list[str]

    def in_folder(self, folder: Path) -> Launch:
        """This launch for a run in `folder`."""
        return self._map(lambda v: _untokenized(v, str(folder)))

    def tokenized(self, folder: Path) -> Launch:
        """This launch of a run in `folder` with the folder's path as `FOLDER_TOKEN`: what an
        entry holds."""
        return self._map(lambda v: _tokenized(v, str(folder)))

    def _map(self, change: Callable[[str], str]) -> Launch:
        return Launch(
            self.scenario_name,
            self.locustfile,
            self.live_config,
            [change(a) for a in self.argv],
            {k: change(v) for k, v in self.env.items()},
            [change(p) for p in self.python_path],
        )


def _tokenized(value: str, folder: str) -> str:
    # Only a path in the folder: a folder named "r" must not touch "--run-time".
    if value == folder or value.startswith(folder + os.sep):
        return FOLDER_TOKEN + value[len(folder) :]
    return value


def _untokenized(value: str, folder: str) -> str:
    if value.startswith(FOLDER_TOKEN):
        return folder + value[len(FOLDER_TOKEN) :]
    return value


# --- what reading the scenario depended on -------------------------------------------------


class RecordingEnviron(Mapping[str, str]):
    """os.environ as the scenario reader sees it, noting every name it looks up."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self.names: set[str] = set()
        self.listed = False
        """True when something went through all variables: then no entry can be trusted."""

    def __getitem__(self, name: str) -> str:
        self.names.add(name)
        return self._environ[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.names.add(name)
        return name in self._environ

    def __iter__(self) -> Iterator[str]:
        self.listed = True
        return iter(self._environ)

    def __len__(self) -> int:
        self.listed = True
        return len(self._environ)


@dataclass
class Recording:
    environ: RecordingEnviron
    file_uses: list[Any]


@contextmanager
def recording() -> Iterator[Recording]:
    """Notes the files and environment variables the scenario reader uses in the block
    (pass `environ` to it)."""
    from loadkit.scenario import files  # not pydantic: only the scenario's file helpers

    with files.recording() as uses:
        yield Recording(RecordingEnviron(), uses)


def _stat_of(path: str) -> list[int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]


def _sha256_of(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def _file_holds(use: Mapping[str, Any]) -> bool:
    """Whether one recorded use of a file would come out the same now."""
    kind, path, result = str(use["kind"]), str(use["path"]), str(use["result"])
    try:
        if kind == "read":
            if _stat_of(path) == use.get("stat"):
                return True
            return _sha256_of(path) == result  # touched, or checked out again: same bytes?
        if kind == "resolve":
            return str(Path(path).resolve()) == result
        if kind == "is_file":
            return str(Path(path).is_file()) == result
        if kind == "is_dir":
            return str(Path(path).is_dir()) == result
    except (OSError, RuntimeError, ValueError):
        return False
    return False  # a kind this version does not know


def _env_digest(salt: bytes, names: Sequence[str], environ: Mapping[str, str]) -> str:
    values = [[name, environ.get(name)] for name in sorted(names)]
    message = json.dumps(values, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hmac.new(salt, message, hashlib.sha256).hexdigest()


# --- the key ----------------------------------------------------------------------------------


def _code_fingerprint() -> list[Any]:
    """loadkit's version and source files, Python's version and the validating packages':
    an edit to loadkit (an editable install) or an upgrade misses every old entry."""
    import importlib.util

    package = Path(__file__).parent
    files = []
    for root, dirs, names in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                files.append([os.path.relpath(path, package), _stat_of(path)])
    others = []
    for module in _DEPENDENCIES:
        spec = importlib.util.find_spec(module)
        origin = spec.origin if spec is not None else None
        others.append([module, origin, _stat_of(origin) if origin else None])
    return [__version__, sys.version, sys.executable, files, others]


def cache_key(source_file: str, text: bytes, options: Mapping[str, Any]) -> str:
    key = {
        "format": FORMAT,
        "code": _code_fingerprint(),
        "file": source_file,
        "path": os.path.abspath(source_file),
        "cwd": os.getcwd(),
        "text": hashlib.sha256(text).hexdigest(),
        "options": {k: options[k] for k in sorted(options)},
    }
    return hashlib.sha256(json.dumps(key, default=str).encode("utf-8")).hexdigest()


# --- reading and writing entries -------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    key: str
    text: str
    """The scenario as read for the key (written into the run folder)."""
    launch: Launch


class RunCache:
    """Entries in one folder (`cache_dir`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _entry(self, key: str) -> Path:
        return self.folder / "runs" / f"{key}.json"

    def _salt(self, *, create: bool) -> bytes | None:
        path = self.folder / "salt"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            if not create:
                return None
        salt = os.urandom(32)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another run made it meanwhile
            return path.read_bytes()
        with os.fdopen(fd, "wb") as handle:
            handle.write(salt)
        return salt

    def key_for(self, source_file: str, options: Mapping[str, Any]) -> tuple[str, bytes] | None:
        """The key of the scenario as it is now, and its bytes; None when it cannot be read."""
        try:
            with open(source_file, "rb") as handle:
                text = handle.read(MAX_SCENARIO_BYTES + 1)
        except (OSError, ValueError):
            return None
        if len(text) > MAX_SCENARIO_BYTES:
            return None
        return cache_key(source_file, text, options), text

    def lookup(self, source_file: str, options: Mapping[str, Any]) -> Hit | None:
        """The entry for this scenario and these options if everything it depended on is as
        it was; None otherwise (a miss costs the key: a few milliseconds)."""
        found = self.key_for(source_file, options)
        if found is None:
            return None
        key, text = found
        try:
            entry = json.loads(self._entry(key).read_text(encoding="utf-8"))
            salt = self._salt(create=False)
            if salt is None or entry.get("format") != FORMAT:
                return None
            if not all(_file_holds(use) for use in entry["files"]):
                return None
            if _env_digest(salt, entry["env_names"], os.environ) != entry["env_digest"]:
                return None
            launch = Launch(**entry["launch"])
            return Hit(key, text.decode("utf-8"), launch)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # no entry, or one cut short or of another shape: a miss

    def store(
        self,
        key: str,
        recorded: Recording,
        launch: Launch,
        *,
        secret_values: Sequence[str] = (),
    ) -> bool:
        """Write the entry; False (and nothing written) when it cannot be trusted or would hold
        a secret's value. Never raises for the file system: a cache is only a cache."""
        if recorded.environ.listed:
            return False
        launch_json = json.dumps(asdict(launch), ensure_ascii=False)
        if any(value and value in launch_json for value in secret_values):
            return False
        uses = [(u.kind, u.path, u.result, u.stat) for u in recorded.file_uses]
        files = []
        for kind, path, result, stat in dict.fromkeys(uses):  # in order, each once
            use: dict[str, Any] = {"kind": kind, "path": path, "result": result}
            if stat is not None:
                use["stat"] = list(stat)
            files.append(use)
        try:
            salt = self._salt(create=True)
            assert salt is not None
            names = sorted(recorded.environ.names)
            entry = {
                "format": FORMAT,
                "files": files,
                "env_names": names,
                "env_digest": _env_digest(salt, names, os.environ),
                "launch": asdict(launch),
            }
            _write_private(self._entry(key), json.dumps(entry, ensure_ascii=False))
            self._prune()
        except OSError:
            return False
        return True

    def forget(self, key: str) -> None:
        with contextlib.suppress(OSError):
            self._entry(key).unlink()

    def _prune(self) -> None:
        entries = sorted(
            (self.folder / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime_ns
        )
        for old in entries[:-MAX_ENTRIES]:
            with contextlib.suppress(OSError):
                old.unlink()


def _write_private(path: Path, text: str) -> None:
    """Readable by this user only (a locustfile embeds the scenario's test data), written
    whole: a run reading it meanwhile sees the old entry or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --- starting Locust from an entry -----------------------------------------------------------


@dataclass
class EarlyStart:
    """A run whose Locust was started from a cache entry, before its scenario was validated."""

    key: str
    text: str
    """The scenario as Locust runs it (the one to validate, even if the file was edited since)."""
    folder: RunFolder
    launch: Launch
    """As given to Locust (in `folder`)."""
    emptied_only: bool
    """The folder was an empty --out that existed before: abandoning empties it."""
    handed_over: bool = False
    """The runner has taken the Locust process over: from then on it judges whatever happens."""

    def abandon(self, locust: LocustProcess) -> None:
        """Stop Locust and take the folder back, as if the run had never started: the reading
        of the scenario failed (which a hit rules out) or the person interrupted it first."""
        if locust.process.poll() is None:
            locust.process.kill()
            locust.process.wait()
        with contextlib.suppress(OSError):
            if self.emptied_only:
                for child in self.folder.path.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            else:
                shutil.rmtree(self.folder.path)


def start_early(
    hit: Hit, locust: LocustProcess, *, out: Path | None, reports_dir: Path
) -> EarlyStart | None:
    """Make the run folder, write the scenario, locustfile and live thresholds into it and hand
    Locust its command. None when the folder cannot be made: the full path then says why."""
    existed = out is not None and out.exists()
    try:
        folder = RunFolder.create(out, hit.launch.scenario_name, reports_dir)
    except OSError:  # not empty, not a folder, not writable: reported by the full path
        return None
    launch = hit.launch.in_folder(folder.path)
    early = EarlyStart(hit.key, hit.text, folder, launch, emptied_only=existed)
    try:
        folder.scenario.write_text(hit.text, encoding="utf-8")
        folder.locustfile.write_text(launch.locustfile, encoding="utf-8")
        folder.live_config.write_text(launch.live_config, encoding="utf-8")
    except OSError:
        early.abandon(locust)  # Locust has no command yet: only the folder goes
        return None
    locust.begin(launch.argv, log=folder.locust_log, env=launch.env, python_path=launch.python_path)
    return early


def wait_until_running(locust: LocustProcess, timeout_s: float) -> None:
    """Until Locust's first progress line (its test is under way) or its exit, at most
    `timeout_s`: on one core, validating the scenario meanwhile would slow its start down."""
    import select

    with contextlib.suppress(OSError, ValueError):
        select.select([locust.progress_fd], [], [], timeout_s)
