"""What every imported scenario has: the editor's schema line, a header saying where it came
from and what a person must decide, `name`, `host`, a load to start with, a threshold."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from loadkit.importers.yaml_writer import Map, Seq, render
from loadkit.masking import MIN_SECRET_LENGTH

DEFAULT_SCHEMA_REF = "scenario.schema.json"
HOST_VARIABLE = "TARGET_HOST"


@dataclass(frozen=True)
class ImportedScenario:
    """The scenario text, and what the command tells the person on standard error."""

    text: str
    secrets: dict[str, str] = field(default_factory=dict)
    """Secret environment variables the scenario reads: name -> what it is."""
    notes: list[str] = field(default_factory=list)


def schema_line(schema_ref: str) -> str:
    return f"yaml-language-server: $schema={schema_ref}"


def host_value(origin: str) -> str:
    """`${TARGET_HOST:-origin}`: the recorded or specified host, overridable at run time."""
    return f"${{{HOST_VARIABLE}:-{origin}}}"


def starting_load() -> Map:
    return Map().add("users", 1).add("spawn_rate", 1).add("duration", "1m")


def thresholds() -> Seq:
    return Seq(inline=False).add(
        "error_rate < 1%", comment="decide: add response times, e.g. p95 < 500ms"
    )


def document(
    root: Map,
    *,
    schema_ref: str,
    summary: Iterable[str],
    secrets: dict[str, str],
) -> str:
    header = [schema_line(schema_ref)]
    if schema_ref == DEFAULT_SCHEMA_REF:
        header.append("(`loadkit schema -o scenario.schema.json` writes the file named above)")
    header += list(summary)
    if secrets:
        header.append("")
        header.append("Secrets, read from the environment when the scenario is loaded and run:")
        header += [f"  {line}" for line in secret_lines(secrets)]
    return render(root, header)


def secret_lines(secrets: dict[str, str]) -> list[str]:
    lines = [f"{name}: {what}" for name, what in secrets.items()]
    lines.append(
        f"each at least {MIN_SECRET_LENGTH} characters (shorter ones are refused), e.g. "
        + " ".join(f"{name}='...'" for name in secrets)
        + " loadkit run FILE"
    )
    return lines
