"""The bundled demo target: `server` (a small public-service-shaped HTTP JSON API on gevent,
run as `python -m loadkit.demo_target`) and `process` (that server in a child process, for
`loadkit demo`, the tests and the benchmarks). Importing the package imports neither.
"""
