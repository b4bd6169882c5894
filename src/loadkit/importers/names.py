"""Names the importers give things, and which names say "this is a credential"."""

from __future__ import annotations

import re

from loadkit.scenario.limits import MAX_NAME_LENGTH

# A field, parameter or header whose name says it holds a credential: its value becomes a
# `${secret:NAME}` reference, read from the environment when the scenario runs.
_SENSITIVE = re.compile(
    r"pass(word|wd|phrase)?$|^pwd$|secret|api[-_]?key|apikey|access[-_]?key|private[-_]?key"
    r"|auth[-_]?token|access[-_]?token|refresh[-_]?token|^token$|session[-_]?id|^pin$|^otp$"
    r"|client[-_]?secret|credential",
    re.IGNORECASE,
)
# Header names whose value is a credential when no earlier response returned it.
_SENSITIVE_HEADER = re.compile(
    r"^(authorization|proxy-authorization|x-api-key|api-key|apikey|x-auth-token|x-access-token"
    r"|x-csrf-token|x-xsrf-token)$",
    re.IGNORECASE,
)


def is_sensitive(name: str) -> bool:
    return bool(_SENSITIVE.search(name))


def is_sensitive_header(name: str) -> bool:
    return bool(_SENSITIVE_HEADER.match(name)) or is_sensitive(name)


def snake(text: str) -> str:
    """`caseId` -> `case_id`, `X-Request-Id` -> `x_request_id`; an identifier, or ''."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    if text and text[0].isdigit():
        text = f"v_{text}"
    return text[:40]


def scenario_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "imported"
    return name[:MAX_NAME_LENGTH]


class Names:
    """Unique names in one namespace: the same thing keeps its name, another thing with the
    same wish gets `_2`, `_3`..."""

    def __init__(self, *, upper: bool = False, taken: set[str] | None = None) -> None:
        self._upper = upper
        self._by_thing: dict[object, str] = {}
        self._taken = set(taken or ())

    def name(self, wish: str, thing: object) -> str:
        if thing in self._by_thing:
            return self._by_thing[thing]
        base = snake(wish) or "value"
        base = base.upper() if self._upper else base
        name, n = base, 1
        while name in self._taken:
            n += 1
            name = f"{base}_{n}"
        self._taken.add(name)
        self._by_thing[thing] = name
        return name
