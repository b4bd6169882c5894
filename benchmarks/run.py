#!/usr/bin/env python3
"""loadkit's performance benchmark: do compiled scenarios cost nothing?

    python benchmarks/run.py                     # the full run (~30 min), see benchmarks/README.md
    python benchmarks/run.py --quick             # 1 round of 2 s per case, 20 s memory run
    python benchmarks/run.py --cases 1,2 --rounds 3 --seconds 5 --json figures.json

The benchmark is the package next to this file, `loadbench` (its docstring says what each
module owns); this file only runs it, and is what the report case starts again as a child.
"""

from __future__ import annotations

import sys

from loadbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
