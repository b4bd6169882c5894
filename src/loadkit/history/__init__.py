"""The run history: every run recorded in a database, for trends, drift and baselines.

- `schema`: the tables (SQLAlchemy Core), their version and the migrations between versions
- `store`: `HistoryStore`, the one door to the database (SQLite by default, PostgreSQL by URL);
  every failure to reach it is a `HistoryUnavailable` whose message never holds the password
- `record`: a run folder's summary.json (and the git commit it ran) as a `RunRecord`
- `drift`: a passing run significantly worse than the median of the last passing runs
- `recording`: what `loadkit run` (and ui, capacity) does after judging a run: drift, record,
  and the `HistoryView` that summary.json carries for the renderers
"""
