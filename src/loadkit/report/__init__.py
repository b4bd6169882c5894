"""Renderers of a run folder, each a pure function of summary.json and the run's files:
`console` (the terminal), `markdown` (summary.md), `html` (report.html), `junit` (junit.xml),
`charts` (matplotlib), and `write` (all of them into the folder, after a run or with
`loadkit report`). This package's own import is light: pandas and matplotlib load only with
`charts` and `write`, i.e. once a run is over.
"""
