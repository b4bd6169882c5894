"""The Locust releases loadkit works with, in one place.

pyproject.toml declares the range (`locust>=2.42,<3`; a test checks the two agree), `.ci/run`
runs the fast tier and an end-to-end set on the oldest as well as on the newest, and every
generated locustfile refuses, in one line, a Locust older than the oldest. Newer releases are
allowed: what loadkit uses beyond Locust's public API is checked where it is used (the lean
request path in `locustfile_helpers.lean_path_works`, the harness's request listener in
`harness._join_locusts_stats`), and each falls back to Locust's own code when it is not
there.
"""

from __future__ import annotations

OLDEST_LOCUST = (2, 42)
"""The oldest Locust (major, minor) the suite runs on."""


def oldest_locust_text() -> str:
    return ".".join(str(part) for part in OLDEST_LOCUST)


def version_guard() -> list[str]:
    """The lines a generated locustfile starts with, after its imports."""
    oldest = oldest_locust_text()
    return [
        "",
        f"# Needs Locust {oldest} or newer (what loadkit tests); an older one lacks what it uses.",
        f'if tuple(int(part) for part in locust.__version__.split(".")[:2]) < {OLDEST_LOCUST!r}:',
        f'    raise SystemExit(f"this locustfile needs Locust {oldest} or newer, not '
        f"{{locust.__version__}}: pip install 'locust>={oldest}'\")",
    ]
