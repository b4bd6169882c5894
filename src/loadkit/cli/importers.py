"""`loadkit import har|openapi`: a first scenario from a recording or an API description;
the inputs are read here, the importers are pure functions of them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from loadkit.cli.files import emit
from loadkit.errors import UsageError
from loadkit.exit_codes import ExitStatus


@click.group(name="import")
def import_group() -> None:
    """Write a first scenario from a browser recording (HAR) or an OpenAPI description."""


def _read_input(path: Path, what: str) -> Any:
    """The parsed JSON (or YAML) input of an importer; a one-line error when it is not."""
    from loadkit.importers import MAX_INPUT_BYTES

    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.stat().st_size > MAX_INPUT_BYTES:
        raise UsageError(f"{path}: larger than {MAX_INPUT_BYTES // 1_000_000} MB")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not a readable {what} ({exc})") from None
    as_yaml = path.suffix.lower() in (".yaml", ".yml")
    return _parse_input(text, str(path), what, "yaml" if as_yaml else "json")


def _parse_input(text: str, where: str, what: str, kind: str) -> Any:
    """`kind`: 'json', 'yaml', or 'either' (JSON first: a served description's type may not
    say which it is)."""
    import json

    import yaml

    try:
        if kind == "yaml":
            return yaml.safe_load(text)
        try:
            return json.loads(text)
        except ValueError:
            if kind == "json":
                raise
            return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{where}: not a readable {what} ({reason})") from None


def _read_url_input(url: str, what: str) -> Any:
    """An importer's input served at an http(s) URL, parsed; one line naming the URL when it
    cannot be had or is not what was asked for."""
    from loadkit.importers import MAX_INPUT_BYTES, download

    answer = download.download(url, max_bytes=MAX_INPUT_BYTES)
    path = url.split("?", 1)[0].lower()
    if "yaml" in answer.content_type or path.endswith((".yaml", ".yml")):
        kind = "yaml"
    else:
        kind = "json" if "json" in answer.content_type else "either"
    try:
        parsed = _parse_input(answer.text, url, what, kind)
    except UsageError:
        parsed = None
    if not isinstance(parsed, dict):
        raise UsageError(
            f"{url}: the answer ({answer.content_type or 'no type'}) is no {what}; "
            "give the address of the description itself"
        )
    return parsed


def _write_imported(imported: Any, output: Path | None) -> ExitStatus:
    for note in imported.notes:
        click.echo(f"loadkit: note: {note}", err=True)
    for name, what in imported.secrets.items():
        click.echo(f"loadkit: note: secret {name} ({what}): set it before running", err=True)
    emit(imported.text, output)
    return ExitStatus.PASS


def _schema_ref(output: Path | None) -> str:
    """The scenario schema's path relative to the output, when a folder above it has one."""
    from loadkit.importers.skeleton import DEFAULT_SCHEMA_REF

    folder = (output.parent if output is not None else Path.cwd()).resolve()
    for parent in (folder, *folder.parents):
        candidate = parent / "schema" / "scenario.schema.json"
        if candidate.is_file():
            return os.path.relpath(candidate, folder)
    return DEFAULT_SCHEMA_REF


_OUTPUT_OPTION = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the scenario here instead of standard output.",
)


@import_group.command(name="har")
@click.argument("recording", type=click.Path(dir_okay=False, path_type=Path))
@_OUTPUT_OPTION
@click.option(
    "--include-host",
    "include_hosts",
    multiple=True,
    metavar="HOST",
    help="Also replay requests to this host (repeatable); others than the main one are dropped.",
)
@click.option("--keep-static", is_flag=True, help="Keep static assets (scripts, styles, images).")
def import_har_command(
    recording: Path, output: Path | None, include_hosts: Sequence[str], keep_static: bool
) -> ExitStatus:
    """A scenario that replays a browser recording (HAR) for a new session.

    Values a response returned and a later request sent (tokens, ids, CSRF values) are
    captured and sent as {{ variables }}; passwords and keys become ${secret:NAME}.
    """
    from loadkit.importers import import_har

    har = _read_input(recording, "HAR file (JSON)")
    imported = import_har(
        har,
        name=recording.stem,
        source_file=recording.name,
        include_hosts=include_hosts,
        keep_static=keep_static,
        schema_ref=_schema_ref(output),
    )
    return _write_imported(imported, output)


def _parameter_values(values: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--value {item!r}: write NAME=VALUE, e.g. --value bucket_id=default")
        found[name.strip()] = value
    return found


@import_group.command(name="openapi")
@click.argument("spec", metavar="SPEC")
@_OUTPUT_OPTION
@click.option(
    "--include-writes",
    is_flag=True,
    help="Also import POST, PUT, PATCH and DELETE operations (left out, commented, otherwise).",
)
@click.option(
    "--include-destructive",
    is_flag=True,
    help="Also import DELETEs of what the scenario did not create (a collection, a fixed id).",
)
@click.option(
    "--value",
    "values",
    multiple=True,
    metavar="NAME=VALUE",
    help="The value of a path or query parameter (repeatable), e.g. --value bucket_id=default.",
)
def import_openapi_command(
    spec: str,
    output: Path | None,
    include_writes: bool,
    include_destructive: bool,
    values: Sequence[str],
) -> ExitStatus:
    """A scenario with one task per operation of an OpenAPI (or Swagger 2.0) description.

    SPEC is a file (JSON or YAML) or an http(s) URL that serves the description. Read
    operations are imported; write operations are written commented out unless
    --include-writes, so nobody changes data by accident; a DELETE of what the scenario did
    not create needs --include-destructive as well.
    """
    from loadkit.importers import download, import_openapi

    given = _parameter_values(values)  # before anything is read or downloaded
    what = "OpenAPI description (JSON or YAML)"
    if download.is_url(spec):
        document, source = _read_url_input(spec, what), spec
    else:
        document, source = _read_input(Path(spec), what), Path(spec).name
    imported = import_openapi(
        document,
        source_file=source,
        include_writes=include_writes,
        include_destructive=include_destructive,
        values=given,
        served_from=spec if download.is_url(spec) else None,
        schema_ref=_schema_ref(output),
    )
    return _write_imported(imported, output)
