"""`{{ name }}` templates and `$.json.path` expressions, parsed once at load time.

A template is filled at run time from the user's variables (captured values, test-data rows,
built-ins) or, for `{{ env.NAME }}`, from the load generator's environment. The compiler turns
the parsed parts into plain Python expressions, so nothing is parsed per request.

A literal `{{` is written `{{ '{{' }}` (a template whose value is the text `{{`, as in Jinja):
text that is data, such as what a recording captured, never becomes a variable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# `{{{ x }}` is `{` and `{{ x }}`: a template opens at the last `{{` of a run of braces, so
# text ending in `{` can be joined to a template (as an importer joins recorded pieces).
_TEMPLATE = re.compile(r"\{\{(?!\{)(.*?)\}\}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LITERAL_OPEN = "{{ '{{' }}"
"""How a template spells a literal `{{` (the only literal a template holds)."""
_LITERAL_OPEN_EXPR = "'{{'"
_HOW_LITERAL = f"a literal {{{{ is written {LITERAL_OPEN}"
BUILTIN_VARIABLES = ("user_id",)
"""Always defined: `user_id`, unique per simulated user within a run (also across workers)."""


@dataclass(frozen=True)
class Var:
    name: str
    env: bool = False
    """True for `{{ env.NAME }}`: read from the environment when the user runs."""

    def __str__(self) -> str:
        return f"{{{{ env.{self.name} }}}}" if self.env else f"{{{{ {self.name} }}}}"


Part = str | Var


def parse_template(text: str) -> list[Part]:
    """Split text into literal strings and variables. Raises ValueError on a bad `{{ }}`."""
    parts: list[Part] = []
    pos = 0
    for match in _TEMPLATE.finditer(text):
        if match.start() > pos:
            _add_text(parts, _literal(text[pos : match.start()]))
        expr = match.group(1).strip()
        if expr == _LITERAL_OPEN_EXPR:
            _add_text(parts, "{{")
        elif expr.startswith("env.") and _IDENT.fullmatch(expr[4:]):
            parts.append(Var(expr[4:], env=True))
        elif _IDENT.fullmatch(expr):
            parts.append(Var(expr))
        else:
            raise ValueError(
                f"invalid template '{match.group(0)}'; write {{{{ name }}}} with a variable "
                f"name (letters, digits, _) or {{{{ env.NAME }}}} ({_HOW_LITERAL})"
            )
        pos = match.end()
    if pos < len(text):
        _add_text(parts, _literal(text[pos:]))
    return parts


def _literal(text: str) -> str:
    """Text between templates; a `{{` there opens nothing (`{{{{ x }}`), so it is refused."""
    if "{{" in text:
        raise ValueError(f"unclosed '{{{{' in template; close it with '}}}}' ({_HOW_LITERAL})")
    return text


def _add_text(parts: list[Part], text: str) -> None:
    """Literal text joins the literal before it: `a{{ '{{' }}b` is one part, `a{{b`."""
    if parts and isinstance(parts[-1], str):
        parts[-1] += text
    else:
        parts.append(text)


def escape_template(text: str) -> str:
    """`text` as a template whose value is `text` itself: every `{{` written literally."""
    return text.replace("{{", LITERAL_OPEN)


def template_vars(text: str) -> list[Var]:
    return [p for p in parse_template(text) if isinstance(p, Var)]


_PATH_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(-?\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def parse_json_path(text: str) -> tuple[str | int, ...]:
    """`$.a.b[0]['c d']` -> ('a', 'b', 0, 'c d'). A small, exact subset of JSONPath: no
    wildcards or filters, so a path names one value. Raises ValueError."""
    if not text.startswith("$"):
        raise ValueError(f"JSON path {text!r} must start with '$', e.g. $.token or $.items[0].id")
    keys: list[str | int] = []
    pos = 1
    while pos < len(text):
        match = _PATH_TOKEN.match(text, pos)
        if not match:
            raise ValueError(
                f"cannot read JSON path {text!r} at {text[pos:]!r}; use $.key, $.list[0] "
                "or $['key with spaces'] (no wildcards or filters)"
            )
        name, index, quoted, dquoted = match.groups()
        if index is not None:
            keys.append(int(index))
        else:
            keys.append(name if name is not None else (quoted if quoted is not None else dquoted))
        pos = match.end()
    return tuple(keys)
