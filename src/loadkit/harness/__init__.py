"""Runs *inside* the Locust process: `python -m loadkit.harness <locust arguments>`.

It adds what Locust does not do by itself and then hands over to Locust's own `main()`, so
runners, stats, CSV writers, master/worker and the web UI stay Locust's:

- a final, complete snapshot of the stats at shutdown (Locust rewrites `_stats.csv` only once
  a second and not at exit, so short runs would report stale numbers), as CSV in Locust's
  format and as `locust_final.json` with the raw response-time histograms;
- fine response-time histograms (`loadkit.histogram`: 0.5 %-wide log buckets) per request
  type, name and user class and per wall-clock second, recorded by a `request` listener in
  every process that makes requests (the only one: it also logs into Locust's statistics, in
  place of Locust's own listener, in batches; see `requests`); workers ship theirs
  with each report to the master (`report_to_master`, then forget them) and the master merges
  them (`worker_report`), just as Locust ships its own stats; the master (or the local
  process) writes `histograms.json` with the final snapshot;
- what the verdict needs to know about the load actually delivered: the user count and the
  CPU use of every load-generating process, sampled each second from the start of the run
  (workers ship theirs to the master with their reports), and the notes the generated code
  logs on the `loadkit` logger (e.g. test data running out), all in `locust_final.json`;
- one JSON progress line per second on the file descriptor named by LOADKIT_PROGRESS_FD,
  which `loadkit run` turns into its live status line (the last complete second, not an
  average).

It also masks the scenario's secrets in everything Locust logs, prints, records and writes,
before it is written (`secrets`).

Its parts: `lifecycle` (main, init, the test's start and end, deadline, die-with-parent, the
stdin protocol), `requests` (the request listener, batching, joining Locust's statistics),
`traces` (the slowest traced requests, for trace links), `sampling` (users, CPU,
event-loop lag, arrivals, notes each second), `workers` (worker reports,
lost and late workers), `progress` (the progress pipe), `live_metrics` (live judgement,
Prometheus), `ui` (the web UI's run folders), `snapshot` (the final snapshot), `secrets`
(masking), all sharing the one typed `state.state`.

At import it needs `harness_protocol` and `exit_codes` (plain constants), `histogram` and
`masking` (pure, standard library only) of loadkit; `live`, `metrics`, `webui` and `run_folder`
only when a run asks for them (import-linter checks both): this package must stay cheap to
import, and nothing may import ssl-using code before Locust patches. This file imports nothing:
`python -m loadkit.harness` runs `__main__`.
"""
