"""First scenarios from what a team already has: a browser recording (HAR) or an OpenAPI
description. Pure functions from the parsed input to scenario text; the CLI reads the files
and writes the result."""

from loadkit.importers.har import import_har
from loadkit.importers.openapi import import_openapi
from loadkit.importers.skeleton import ImportedScenario

MAX_INPUT_BYTES = 200_000_000
"""The largest recording or description read (a HAR with response bodies can be large)."""

__all__ = ["MAX_INPUT_BYTES", "ImportedScenario", "import_har", "import_openapi"]
