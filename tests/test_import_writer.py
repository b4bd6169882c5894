"""The importers' YAML writer: what it writes reads back as what it was given."""

from __future__ import annotations

import itertools

import yaml

from loadkit.importers.yaml_writer import Map, Seq, literal_text, literal_value, render, to_data
from loadkit.scenario.source import interpolate_env
from loadkit.scenario.templates import Var, parse_template

AWKWARD = [
    "plain", "two words", "yes", "no", "null", "~", "1", "0x10", "1e3", "2024-01-31", "",
    " lead", "trail ", "a: b", "a #b", "#x", "- x", "[x]", "{x}", "x, y", "'q'", '"q"', "\\",
    "tab\there", "line\nbreak", "\u2028", "\x85", "é ü 漢", "$.token", "$[1].id", "@x", "%x",
    "!tag", "&anchor", "*alias", "|", ">", "?", "{{ token }}", "${secret:X}", "$${HOME}",
]  # fmt: skip


def test_every_awkward_string_reads_back_the_same_in_block_and_flow_style() -> None:
    root = Map()
    for i, text in enumerate(AWKWARD):
        root.add(f"k{i}", text, comment="a comment")
    root.add("flow", Map().add("list", Seq().add("a, b").add("{c}")).add("x: y", "z #"))
    root.add("keys", Map().add("$.a b", 1).add("yes", True).add("null", None).add("f", 1.5))
    text = render(root, header=["yaml-language-server: $schema=x.json", "", "second"])
    assert text.startswith("# yaml-language-server: $schema=x.json\n#\n# second\n")
    assert yaml.safe_load(text) == to_data(root)


def test_commented_out_items_are_comments_at_their_place() -> None:
    seq = Seq().add(Map().add("name", "kept").add("request", Map().add("url", "/a")))
    seq.add(
        Map().add("name", "left out").add("request", Map().add("url", "/b")),
        above=["Left out: a reason"],
        commented_out=True,
    )
    seq.trailer = ["Not imported: TRACE /x"]
    text = render(Map().add("tasks", seq))
    assert text == (
        "tasks:\n"
        "  - {name: kept, request: {url: /a}}\n"
        "  # Left out: a reason\n"
        "  # - {name: left out, request: {url: /b}}\n"
        "  # Not imported: TRACE /x\n"
    )
    assert yaml.safe_load(text) == {"tasks": [{"name": "kept", "request": {"url": "/a"}}]}


def sent(scenario_text: str) -> list[object]:
    """What a templated value written in a scenario sends: YAML read back, `${...}` filled by
    the loader, `{{ }}` parsed; text parts joined."""
    loaded = yaml.safe_load(render(Map().add("v", scenario_text)))["v"]
    return parse_template(interpolate_env(loaded, {}, {}))


def test_recorded_text_reads_back_as_itself_even_next_to_a_variable() -> None:
    """Every string of braces, dollars and text up to 5 characters, alone and on both sides of
    a `{{ var }}` (as the HAR importer joins recorded text to a correlated value)."""
    alphabet = ["{", "}", "$", "x", " ", "'"]
    texts = ["".join(t) for n in range(1, 6) for t in itertools.product(alphabet, repeat=n)]
    texts += ["{{ env.SECRET }}", "{{ '{{' }}", "${HOME}", "$${x}", "{{{{ x }}}}"]
    for text in texts:
        assert sent(literal_text(text)) == [text], text
        around = sent(literal_text(text) + "{{ id }}" + literal_text(text))
        assert around == [text, Var("id"), text], text


def test_a_name_is_spelled_for_the_loader_only() -> None:
    # Names are not templates: `{{` stays as it is, `${` is escaped for the loader.
    for text in ["GET /a/{id}", "{{ x }}", "${HOME}", "a$", "$$"]:
        loaded = yaml.safe_load(render(Map().add("v", literal_value(text))))["v"]
        assert interpolate_env(loaded, {}, {}) == text
