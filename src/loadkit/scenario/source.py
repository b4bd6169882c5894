"""Read a YAML file into plain data while remembering where every key and value was written.

Positions let validation errors point at `file:line:column`; `${VAR}` / `${VAR:-default}` are
filled from the environment here, at load time, so the rest of loadkit only sees final values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loadkit.errors import Location, Problem, ScenarioError
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
    key_positions: dict[KeyPath, Location] = field(default_factory=dict)
    value_positions: dict[KeyPath, Location] = field(default_factory=dict)
    env_used: dict[str, str] = field(default_factory=dict)
    secrets_used: dict[str, str] = field(default_factory=dict)
    """Secret variables (`${secret:NAME}`, or named in `secrets:`), name -> value. Their
    references become `{{ env.NAME }}` templates, read at run time and never written out."""
    """Environment variables read by `${...}`, name -> value (for masking secrets)."""

    def locate(self, path: KeyPath, *, at_key: bool = False) -> Location:
        """The closest known position for `path`, walking up to the document start."""
        probe = path
        while probe:
            if at_key and probe in self.key_positions:
                return self.key_positions[probe]
            if probe in self.value_positions:
                return self.value_positions[probe]
            if probe in self.key_positions:
                return self.key_positions[probe]
            probe = probe[:-1]
        return self.value_positions.get((), Location(self.file, 1, 1))


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
) -> str:
    """Fill `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset); `$${` is `${`.
    A secret (`${secret:NAME}`, or NAME in `secret_names`) is not filled in: it becomes the
    run-time template `{{ env.NAME }}`, so its value never enters a generated file.

    Raises ValueError naming the variable and how to fix it.
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
                raise ValueError(
                    f"secret environment variable {name} is not set; export it before the run"
                )
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
        value = environ.get(name)
        if value is not None:
            used[name] = value
        if value is None or (op == ":-" and value == ""):
            if op:
                return default
            raise ValueError(
                f"environment variable {name} is not set; export it or give a default: "
                f"${{{name}:-value}}"
            )
        return value

    return _ENV_REF.sub(replace, text)


Entries = dict[str, tuple[yaml.Node, yaml.Node]]
"""A mapping's keys, each with the node it was written as and the node of its value."""


class _Builder:
    def __init__(self, file: str, text: str, environ: Mapping[str, str]) -> None:
        self.doc = SourceDocument(file=file, data=None, text=text)
        self.loader = yaml.SafeLoader(text)
        self.environ = environ
        self.problems: list[Problem] = []
        self._entries: dict[int, Entries] = {}
        # Nodes being merged / built: an alias back into one of them is a cycle.
        self._merging: set[int] = set()
        self._building: set[int] = set()
        self.secret_names: set[str] = set()

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
            return True, self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:  # e.g. an unknown !!tag
            problem = yaml_problem(
                self.doc.file, exc, self.doc.text, "quote the value to keep it as text"
            )
            location, message = problem.location, problem.message
        except ValueError as exc:  # e.g. 2024-13-01 matches the timestamp pattern
            location = self.loc(node)
            message = f"cannot read {node.value!r}: {exc}; quote it to keep it as text"
        self.problem(location, path, message)
        return False, None

    def loc(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        return Location(self.doc.file, mark.line + 1, mark.column + 1)

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        if id(node) in self._building:  # `a: &a [*a]`: PyYAML allows it, plain data cannot hold it
            self.problem(
                self.doc.locate(path, at_key=True),
                path,
                "this alias points at a value that contains it, which would never end; "
                "point it at another value",
            )
            return None
        self.doc.value_positions[path] = self.loc(node)
        if isinstance(node, yaml.MappingNode):
            self._building.add(id(node))
            result: dict[str, Any] = {}
            for key, (key_node, value_node) in self.entries(node, path).items():
                child = (*path, key)
                self.doc.key_positions[child] = self.loc(key_node)
                result[key] = self.build(value_node, child)
            self._building.discard(id(node))
            return result
        if isinstance(node, yaml.SequenceNode):
            self._building.add(id(node))
            items = [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            self._building.discard(id(node))
            return items
        _, value = self.construct(node, path)
        if isinstance(value, str) and "$" in value:
            try:
                value = interpolate_env(
                    value,
                    self.environ,
                    self.doc.env_used,
                    self.secret_names,
                    self.doc.secrets_used,
                )
            except ValueError as exc:
                self.problem(self.loc(node), path, str(exc))
        return value


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


def load_yaml(path: str | Path, environ: Mapping[str, str] | None = None) -> SourceDocument:
    """Parse one YAML document with positions. Raises ScenarioError on any problem."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(
            [Problem(Location(file, 1, 1), "", "file not found; check the path")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(
            [Problem(Location(file, 1, 1), "", f"cannot read file: {exc}")]
        ) from None
    return parse_yaml(text, file, environ)


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


def parse_yaml(text: str, file: str, environ: Mapping[str, str] | None = None) -> SourceDocument:
    try:
        # The reader rejects control characters (NUL, ...) up front, in the constructor.
        builder = _Builder(file, text, os.environ if environ is None else environ)
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        location = Location(file, before.count("\n") + 1, len(before) - before.rfind("\n"))
        what = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise ScenarioError(
            [Problem(location, "", f"invalid YAML: {what}; remove it or write it as an escape")]
        ) from None
    try:
        node = builder.loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise ScenarioError([yaml_problem(file, exc, text)]) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ScenarioError([Problem(Location(file, 1, 1), "", f"invalid YAML: {first}")]) from None
    finally:
        builder.loader.dispose()
    if node is None:
        raise ScenarioError(
            [Problem(Location(file, 1, 1), "", "the file is empty; see scenarios/ for examples")]
        )
    builder.secret_names = _declared_secrets(node)
    try:
        builder.doc.data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        raise ScenarioError([yaml_problem(file, exc, text)]) from None
    if builder.problems:
        raise ScenarioError(_in_file_order(builder.problems))
    return builder.doc
