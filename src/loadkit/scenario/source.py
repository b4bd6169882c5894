"""Read a YAML file into plain data while remembering where every key and value was written.

Positions let validation errors point at `file:line:column`; `${VAR}` / `${VAR:-default}` are
filled from the environment here, at load time, so the rest of loadkit only sees final values.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loadkit.errors import Location, Problem, ScenarioError
from loadkit.masking import MIN_SECRET_LENGTH, TOO_SHORT
from loadkit.scenario import limits
from loadkit.scenario.files import read_bounded
from loadkit.scenario.unset import UnsetValue, missing_message
from loadkit.scenario.unset import problems as unset_problems
from loadkit.scenario.yaml_errors import yaml_problem

KeyPath = tuple[str | int, ...]

_ENV_REF = re.compile(r"\$\$|\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_INNER = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>.*))?", re.S)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"


@dataclass
class SourceDocument:
    """Parsed YAML plus the position of each key (for mappings) and each value."""

    file: str
    data: Any
    text: str
    key_marks: dict[KeyPath, yaml.Mark] = field(default_factory=dict)
    value_marks: dict[KeyPath, yaml.Mark] = field(default_factory=dict)
    """Where each key (of a mapping) and each value starts. A `Location` is made only for the
    few positions a problem needs: making one per node was a third of the time of a 1 MB file."""
    env_used: dict[str, str] = field(default_factory=dict)
    secrets_used: dict[str, str] = field(default_factory=dict)
    """Secret variables (`${secret:NAME}`, or named in `secrets:`), name -> value. Their
    references become `{{ env.NAME }}` templates, read at run time and never written out."""
    """Environment variables read by `${...}`, name -> value (for masking secrets)."""
    allow_unset: bool = False
    unset: list[UnsetValue] = field(default_factory=list)
    """With `allow_unset`, each use of a variable or secret that is not set: it reads as the
    run-time template `{{ env.NAME }}`, and the command decides what its absence means."""

    @property
    def key_positions(self) -> dict[KeyPath, Location]:
        return {path: self._location(mark) for path, mark in self.key_marks.items()}

    @property
    def value_positions(self) -> dict[KeyPath, Location]:
        return {path: self._location(mark) for path, mark in self.value_marks.items()}

    def _location(self, mark: yaml.Mark) -> Location:
        return Location(self.file, mark.line + 1, mark.column + 1)

    def locate(self, path: KeyPath, *, at_key: bool = False) -> Location:
        """The closest known position for `path`, walking up to the document start."""
        probe = path
        while probe:
            if at_key and probe in self.key_marks:
                return self._location(self.key_marks[probe])
            if probe in self.value_marks:
                return self._location(self.value_marks[probe])
            if probe in self.key_marks:
                return self._location(self.key_marks[probe])
            probe = probe[:-1]
        if () in self.value_marks:
            return self._location(self.value_marks[()])
        return Location(self.file, 1, 1)


# What would end a line (str.splitlines) or move the terminal's cursor, in a key or a message.
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with every character that would break its line written as an escape (`\\n`)."""
    return _LINE_BREAKING.sub(lambda m: repr(m.group())[1:-1], text)


def one_line_problems(problems: list[Problem]) -> list[Problem]:
    """Each problem fit for one line, whatever keys and values it quotes."""
    return [Problem(p.location, one_line(p.key_path), one_line(p.message)) for p in problems]


def format_key_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def interpolate_env(
    text: str,
    environ: Mapping[str, str],
    used: dict[str, str],
    secret_names: Collection[str] = (),
    secrets_used: dict[str, str] | None = None,
    missing: list[tuple[str, bool]] | None = None,
) -> str:
    """Fill `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset); `$${` is `${`.
    A secret (`${secret:NAME}`, or NAME in `secret_names`) is not filled in: it becomes the
    run-time template `{{ env.NAME }}`, so its value never enters a generated file.

    A variable or secret that is not set: with `missing`, noted there as (name, secret) and
    read as `{{ env.NAME }}`; without, a ValueError naming the variable and how to fix it.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        inner = match.group(1)
        if inner.startswith("secret:") or inner in secret_names:
            name = inner.removeprefix("secret:")
            if not _ENV_NAME.fullmatch(name):
                raise ValueError(f"invalid secret reference '${{{inner}}}'; write ${{secret:NAME}}")
            if not environ.get(name):
                if missing is None:
                    raise ValueError(missing_message(name, True))
                missing.append((name, True))
                return f"{{{{ env.{name} }}}}"
            if len(environ[name]) < MIN_SECRET_LENGTH:
                # Never the value, nor its length: only that it is too short to mask safely.
                raise ValueError(f"secret environment variable {name} is {TOO_SHORT}")
            if secrets_used is not None:
                secrets_used[name] = environ[name]
            return f"{{{{ env.{name} }}}}"
        parsed = _ENV_INNER.fullmatch(inner)
        if parsed is None:
            raise ValueError(
                f"invalid environment reference '${{{inner}}}'; "
                "write ${NAME} or ${NAME:-default}"
            )
        name, op, default = parsed.group("name"), parsed.group("op") or "", parsed.group("default")
        if op and "${" in default:
            # `${A:-${B}}`: the pattern stops at the first `}`, which would leave `${B}` as text.
            raise ValueError(
                f"nested references are not supported (the default of ${{{name}}} holds "
                "'${'); give a plain default"
            )
        value = environ.get(name)
        if value is not None:
            used[name] = value
        if value is None or (op == ":-" and value == ""):
            if op:
                return default
            if missing is None:
                raise ValueError(missing_message(name, False))
            missing.append((name, False))
            return f"{{{{ env.{name} }}}}"
        return value

    return _ENV_REF.sub(replace, text)


Entries = dict[str, tuple[yaml.Node, yaml.Node]]
"""A mapping's keys, each with the node it was written as and the node of its value."""


class _TooBig(Exception):
    """Building stopped at a limit; the one problem that says which."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _Builder:
    def __init__(
        self, file: str, text: str, environ: Mapping[str, str], allow_unset: bool = False
    ) -> None:
        self.doc = SourceDocument(file=file, data=None, text=text, allow_unset=allow_unset)
        self.unset: list[UnsetValue] = []
        self.constructor = yaml.constructor.SafeConstructor()
        self.environ = environ
        self.problems: list[Problem] = []
        self._entries: dict[int, Entries] = {}
        # Nodes being merged / built: an alias back into one of them is a cycle.
        self._merging: set[int] = set()
        self._building: set[int] = set()
        self.secret_names: set[str] = set()
        # A node built a second time was reached through an alias or a merge: a few lines of
        # YAML can repeat a value billions of times ("billion laughs"), so repeats are counted.
        self._built: set[int] = set()
        self._repeated_values = 0
        self._repeated_characters = 0

    def problem(self, location: Location, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(location, format_key_path(path), message))

    def entries(self, node: yaml.MappingNode, path: KeyPath) -> Entries:
        """The keys of a mapping with `<<` merge keys resolved, as the YAML merge spec says: the
        mapping's own keys override merged ones, and of several sources (`<<: [*a, *b]`) the
        first one that has a key wins. A merged key keeps the nodes where it was written, so its
        positions point into the anchored mapping. Worked out once per node (an aliased or
        merged mapping is met again), so its problems are reported once."""
        known = self._entries.get(id(node))
        if known is not None:
            return known
        self._merging.add(id(node))
        own: Entries = {}
        merged: Entries = {}
        merge_key: yaml.Node | None = None
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                if merge_key is not None:
                    self.problem(
                        self.loc(key_node),
                        (*path, "<<"),
                        f"a second '<<' (the first is at line {merge_key.start_mark.line + 1}); "
                        "merge several mappings with one list: <<: [*first, *second]",
                    )
                    continue
                merge_key = key_node
                for source in self.merge_sources(key_node, value_node, (*path, "<<")):
                    for name, pair in self.entries(source, path).items():
                        merged.setdefault(name, pair)  # the first source that has it wins
                continue
            key = self.key(key_node, path)
            if key is None:
                continue
            if key in own:
                first = own[key][0].start_mark.line + 1
                self.problem(
                    self.loc(key_node),
                    (*path, key),
                    f"duplicate key '{key}' (first given at line {first}); remove one of them",
                )
                continue
            own[key] = (key_node, value_node)
        self._merging.discard(id(node))
        # Merged keys first, in their order; an own key replaces a merged one in place.
        result = self._entries[id(node)] = {**merged, **own}
        return result

    def merge_sources(
        self, key_node: yaml.Node, value_node: yaml.Node, path: KeyPath
    ) -> list[yaml.MappingNode]:
        """The mappings a `<<` merges in: one mapping, or a list of them."""
        items = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        sources = []
        for index, item in enumerate(items):
            where = (*path, index) if isinstance(value_node, yaml.SequenceNode) else path
            if not isinstance(item, yaml.MappingNode):
                self.problem(
                    self.loc(item),
                    where,
                    f"'<<' merges mappings, but this is {_describe(item)}; "
                    "name a mapping by its anchor, e.g. <<: *defaults",
                )
            elif id(item) in self._merging:
                self.problem(
                    self.loc(key_node),
                    where,
                    "a mapping cannot merge itself (the alias points at a mapping around this "
                    "'<<'); merge a mapping defined elsewhere",
                )
            else:
                sources.append(item)
        return sources

    def key(self, node: yaml.Node, path: KeyPath) -> str | None:
        """A mapping key as text, or None after recording why it cannot be one."""
        if node.tag == _VALUE_TAG:  # a plain `=` key: YAML's "default value" key, kept as text
            node.tag = "tag:yaml.org,2002:str"
        if not isinstance(node, yaml.ScalarNode):  # `? [a, b]`: not built, it may nest deep
            self.problem(self.loc(node), path, "keys must be plain text")
            return None
        ok, key = self.construct(node, path)
        if not ok:
            return None
        if not isinstance(key, str | int | float | bool) or key is None:
            self.problem(self.loc(node), path, "keys must be plain text")
            return None
        return str(key) if not isinstance(key, str) else key

    def construct(self, node: yaml.Node, path: KeyPath) -> tuple[bool, Any]:
        """A scalar's value, or (False, None) after recording why it cannot be read."""
        try:
            if node.tag == _STR_TAG:  # most scalars: the text as written (the fast way)
                value = node.value
            else:
                value = self.constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:  # e.g. an unknown !!tag
            problem = yaml_problem(
                self.doc.file, exc, self.doc.text, "quote the value to keep it as text"
            )
            location, message = problem.location, problem.message
        except ValueError as exc:  # e.g. 2024-13-01 matches the timestamp pattern
            location = self.loc(node)
            message = f"cannot read {_shorten(node.value)}: {exc}; quote it to keep it as text"
        else:
            if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
                # 0b/0x literals of any length are read, and a 5,000-digit number has no repr.
                message = (
                    f"{_shorten(node.value)} is a number of more than 100 digits; "
                    "quote it to keep it as text"
                )
                self.problem(self.loc(node), path, message)
                return False, None
            if isinstance(value, str) and _SURROGATE.search(value):
                message = (
                    f"{_shorten(value)} holds a lone surrogate ('\\ud800'-'\\udfff'), which "
                    "is not a character; write the character itself or its \\U escape"
                )
                self.problem(self.loc(node), path, message)
                return False, None
            return True, value
        self.problem(location, path, message)
        return False, None

    def loc(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        return Location(self.doc.file, mark.line + 1, mark.column + 1)

    def build(self, node: yaml.Node, path: KeyPath, alias_at: KeyPath | None = None) -> Any:
        """`alias_at`: where the alias or merge that led here was used, if one did."""
        if len(path) > limits.MAX_DEPTH:
            raise _TooBig(
                Problem(
                    self.loc(node),
                    format_key_path(path[:1]),
                    f"values nest more than {limits.MAX_DEPTH} levels deep; flatten this value",
                )
            )
        if alias_at is None and id(node) in self._built:
            alias_at = path
        if alias_at is not None:
            self._count_repeat(node, alias_at)
        else:
            self._built.add(id(node))
        if id(node) in self._building:  # `a: &a [*a]`: PyYAML allows it, plain data cannot hold it
            self.problem(
                self.doc.locate(path, at_key=True),
                path,
                "this alias points at a value that contains it, which would never end; "
                "point it at another value",
            )
            return None
        self.doc.value_marks[path] = node.start_mark
        if isinstance(node, yaml.MappingNode):
            self._building.add(id(node))
            result: dict[str, Any] = {}
            for key, (key_node, value_node) in self.entries(node, path).items():
                child = (*path, key)
                self.doc.key_marks[child] = key_node.start_mark
                result[key] = self.build(value_node, child, alias_at)
            self._building.discard(id(node))
            return result
        if isinstance(node, yaml.SequenceNode):
            self._building.add(id(node))
            items = [self.build(item, (*path, i), alias_at) for i, item in enumerate(node.value)]
            self._building.discard(id(node))
            return items
        _, value = self.construct(node, path)
        if alias_at is not None and isinstance(value, str):
            self._count_repeat(node, alias_at, len(value))
        if isinstance(value, str) and "$" in value:
            missing: list[tuple[str, bool]] = []
            try:
                value = interpolate_env(
                    value,
                    self.environ,
                    self.doc.env_used,
                    self.secret_names,
                    self.doc.secrets_used,
                    missing,
                )
            except ValueError as exc:
                self.problem(self.loc(node), path, str(exc))
            where, key_path = self.loc(node), format_key_path(path)
            self.unset += [UnsetValue(n, s, where, key_path, path) for n, s in missing]
        return value

    def _count_repeat(self, node: yaml.Node, alias_at: KeyPath, characters: int = 0) -> None:
        self._repeated_values += not characters
        self._repeated_characters += characters
        if self._repeated_values > limits.MAX_ALIAS_VALUES:
            what = f"more than {limits.MAX_ALIAS_VALUES:,} values"
        elif self._repeated_characters > limits.MAX_ALIAS_CHARACTERS:
            what = f"more than {limits.format_bytes(limits.MAX_ALIAS_CHARACTERS)} of text"
        else:
            return
        probe = alias_at  # where the alias is used: the key above it (an alias has no mark)
        while probe and probe not in self.doc.key_marks:
            probe = probe[:-1]
        raise _TooBig(
            Problem(
                self.doc.locate(probe, at_key=True),
                format_key_path(alias_at),
                f"aliases expand to {what} in all; repeat less through anchors and aliases",
            )
        )


_MAX_INT_BITS = (10**100).bit_length()
_SURROGATE = re.compile("[\ud800-\udfff]")


def _shorten(text: str, limit: int = 60) -> str:
    """`repr` of a value in a message, cut to fit a line."""
    shown = repr(text)
    return shown if len(shown) <= limit else f"{shown[: limit - 5]}...{shown[0]}"


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    """Top to bottom; a value met again through an alias or a merge is reported once."""
    seen: dict[tuple[Location, str], Problem] = {}
    for problem in problems:
        seen.setdefault((problem.location, problem.message), problem)
    return sorted(seen.values(), key=lambda p: (p.location.line, p.location.column))


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == "tag:yaml.org,2002:null":
        return "empty" if node.value in ("", "~") else f"the value {node.value!r}"
    return f"the value {node.value!r}"


def load_yaml(
    path: str | Path, environ: Mapping[str, str] | None = None, *, allow_unset: bool = False
) -> SourceDocument:
    """Parse one YAML document with positions. Raises ScenarioError on any problem.
    `allow_unset`: a variable or secret that is not set is noted in `unset`, not a problem."""
    file = str(path)
    try:
        data = read_bounded(
            Path(path),
            "the scenario",
            limits.MAX_SCENARIO_BYTES,
            "split it into several scenarios",
        )
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError(
            [Problem(Location(file, 1, 1), "", "file not found; check the path")]
        ) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            [Problem(Location(file, 1, 1), "", f"cannot read file: {exc}")]
        ) from None
    except ValueError as exc:
        raise ScenarioError([Problem(Location(file, 1, 1), "", str(exc))]) from None
    return parse_yaml(text, file, environ, allow_unset=allow_unset)


def _declared_secrets(root: yaml.Node) -> set[str]:
    """Names listed under the top-level `secrets:` key, read before anything is interpolated."""
    if not isinstance(root, yaml.MappingNode):
        return set()
    for key_node, value_node in root.value:
        if getattr(key_node, "value", None) == "secrets" and isinstance(
            value_node, yaml.SequenceNode
        ):
            return {
                str(item.value) for item in value_node.value if isinstance(item, yaml.ScalarNode)
            }
    return set()


@contextmanager
def paused_gc() -> Iterator[None]:
    """Without the cycle collector for a while: reading a large file makes many objects and
    no cycles, and the collector's passes over them took half the time of a 1 MB scenario."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_yaml(
    text: str,
    file: str,
    environ: Mapping[str, str] | None = None,
    *,
    allow_unset: bool = False,
) -> SourceDocument:
    """Parse one YAML document with positions. Raises ScenarioError on any problem.
    `allow_unset`: a variable or secret that is not set is noted in `unset`, not a problem."""
    try:
        with paused_gc():
            return _parse_yaml(text, file, environ, allow_unset)
    except ScenarioError as exc:
        raise ScenarioError(one_line_problems(exc.problems)) from None


def _parse_yaml(
    text: str, file: str, environ: Mapping[str, str] | None, allow_unset: bool
) -> SourceDocument:
    node = _compose(text, file)
    if node is None:
        raise ScenarioError(
            [Problem(Location(file, 1, 1), "", "the file is empty; see scenarios/ for examples")]
        )
    builder = _Builder(file, text, os.environ if environ is None else environ, allow_unset)
    builder.secret_names = _declared_secrets(node)
    try:
        builder.doc.data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        raise ScenarioError([yaml_problem(file, exc, text)]) from None
    except _TooBig as exc:
        raise ScenarioError([exc.problem]) from None
    unset = builder.unset
    if allow_unset:
        builder.doc.unset = unset
    else:  # one line per variable, not per use
        builder.problems += unset_problems(unset)
    if builder.problems:
        raise ScenarioError(_in_file_order(builder.problems))
    return builder.doc


_PYYAML_WORDS_UP_TO = 256 * 1024
"""Characters up to which a YAML error is reported in PyYAML's words (yaml_errors explains
them, tests pin them): PyYAML's own parser, in Python, reads about 200 KB a second."""


def _compose(text: str, file: str) -> yaml.Node | None:
    """The document's node tree, from libyaml when it reads the text (ten times faster than
    PyYAML). An error is reported as PyYAML's own parser words it, or, for a large file, as
    libyaml does (the same position, a less polished message)."""
    # libyaml takes a tab after `key:` as a space (YAML 1.2); PyYAML, whose rules loadkit's
    # tests pin, refuses it: a small file with a tab is read by PyYAML alone.
    slow_only = "\t" in text and len(text) <= _PYYAML_WORDS_UP_TO
    if _FastLoader is not None and not slow_only:
        try:
            fast = _FastLoader(text)  # encodes the text: a lone surrogate fails here
        except UnicodeEncodeError:
            fast = None  # PyYAML's reader reports it, at its position
        if fast is not None:
            try:
                return fast.get_single_node()
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                if mark is not None and "maximum nesting depth" in str(exc):
                    location = Location(file, mark.line + 1, mark.column + 1)
                    raise ScenarioError([Problem(location, "", _too_deep())]) from None
                if len(text) > _PYYAML_WORDS_UP_TO:
                    raise ScenarioError([_yaml_error(file, text, exc)]) from None
            finally:
                fast.dispose()
    try:
        # The reader rejects control characters (NUL, ...) up front, in the constructor.
        loader = _PlainLoader(text)
    except yaml.YAMLError as exc:
        raise ScenarioError([_yaml_error(file, text, exc)]) from None
    try:
        return loader.get_single_node()
    except yaml.YAMLError as exc:
        raise ScenarioError([_yaml_error(file, text, exc)]) from None
    except _TooDeep as exc:
        location = Location(file, exc.mark.line + 1, exc.mark.column + 1)
        raise ScenarioError([Problem(location, "", _too_deep())]) from None
    finally:
        loader.dispose()


def _yaml_error(file: str, text: str, exc: yaml.YAMLError) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        return yaml_problem(file, exc, text)
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        location = Location(file, before.count("\n") + 1, len(before) - before.rfind("\n"))
        character = exc.character if isinstance(exc.character, int) else ord(exc.character)
        what = f"unacceptable character #x{character:04x}: {exc.reason}"
        return Problem(location, "", f"invalid YAML: {what}; remove it or write it as an escape")
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return Problem(Location(file, 1, 1), "", f"invalid YAML: {first}")


def _too_deep() -> str:
    return f"values nest more than {limits.MAX_DEPTH} levels deep; flatten this value"


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__("too deep")
        self.mark = mark


class _PlainLoader(yaml.SafeLoader):
    """PyYAML's parser in Python, for its error messages; it composes nodes recursively, so
    its depth is bounded here (libyaml stops at 1,000 levels by itself)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > limits.MAX_DEPTH + 1:  # the document's own node is not a level
                raise _TooDeep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_STR_TAG = "tag:yaml.org,2002:str"
# How SafeLoader tells a plain scalar's type from its first character (`true`, `1.5`, `~`...),
# with the resolvers that apply to any first character added to each list.
_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: [*resolvers, *yaml.SafeLoader.yaml_implicit_resolvers.get(None, [])]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    if first is not None
}
_ANY_FIRST: list[tuple[str, re.Pattern[str]]] = list(
    yaml.SafeLoader.yaml_implicit_resolvers.get(None, [])
)


def _fast_loader() -> type[yaml.SafeLoader] | None:
    base = getattr(yaml, "CSafeLoader", None)
    if base is None:
        return None

    class FastLoader(base):  # type: ignore[misc, valid-type]
        """libyaml's parser and composer; plain scalars' tags resolved as SafeLoader does,
        without its general path (which took half the time of composing a large file)."""

        def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
            if kind is yaml.ScalarNode and implicit[0] and not self.yaml_path_resolvers:
                for tag, pattern in _IMPLICIT.get(value[:1], _ANY_FIRST):
                    if pattern.match(value):
                        return tag
                return _STR_TAG
            general: str = super().resolve(kind, value, implicit)
            return general

    return FastLoader


_FastLoader = _fast_loader()
