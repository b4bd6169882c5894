"""loadkit's performance benchmark: do compiled scenarios cost nothing?

Starts nginx on 127.0.0.1 (its own config in a temporary folder, one worker pinned to core 0;
a second identical one for head-to-head runs), runs every load generator pinned to core 1 and
compares, case by case:

  wrk  calibration: wrk against the same nginx (how far nginx is from being the bottleneck)
  0    A/A: hand-written FastHttpUser GET against itself (the noise band of cases 1-3 and 7)
  1    compiled GET scenario (`locust -f`) vs hand-written FastHttpUser GET      target >= 1.50
  2    compiled POST + templating + checks + capture vs hand-written equivalent  target >= 1.40
  3    compiled GET scenario vs hand-written HttpUser GET                         target >= 4x
  7    `loadkit run` (harness, histograms) GET vs hand-written FastHttpUser GET  (no target)
  4    start-up to the first request: `loadkit run` vs `locust -f` (same file)  target <= +0.3 s
  5    summary + full report of a run with a 1,000,000-row history            target <= 3 s, 1 GiB
  6    RSS of the Locust process in a long `loadkit run` at full speed          target: flat

Throughput is counted by the server, not the generator: nginx's stub_status request counter is
read after a warm-up and again `--seconds` later; the CPU every process used in that window is
read from /proc, so each line shows that the generator (not nginx) was the bottleneck, and how
much CPU other processes took. Two ways, every round (`--method`): each generator alone on the
core (requests per second per core), and A and B at the same time on the same core, each
against its own nginx (their ratio of requests per CPU-second: immune to the machine's drift,
which on a shared virtual machine reaches tens of percent between runs). The figure judged is
the head-to-head median; rounds disturbed by other processes are repeated.

Load goes to 127.0.0.1 only; every process started here is bounded in time and stopped at the
end, on errors and on Ctrl-C. Linux only (taskset, /proc).

The modules, upstream first (nothing imports what is below it):

  errors, procfs, processes   failures; what /proc says; pinning, environment, stopping
  options                     the command line -> Options
  nginx, workspace            the target; the temporary folder, compiled files, command lines
  measure                     one measuring window (requests by nginx, CPU by /proc)
  cases/                      one module per case family, and `run_case`
  verdicts, results           figures against targets; the table and the JSON
  suite, cli                  one run of the chosen cases; main() and its exit code
"""
