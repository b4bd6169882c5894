"""Helpers that generated locustfiles carry with them.

A generated locustfile must run with plain Locust and travel to workers on its own, so it
cannot import loadkit: `locustfile_helpers_source` copies the helpers it needs from these
modules, verbatim, into the generated code, in the order of `locustfile_helpers_source.FILES`:
`checks` (checks and captures), `lean_path` (`send` and its guard), `users` (transactions, auth,
user numbers, test data, includes, TLS), `schedules` (arrivals and pacing). Each module is also
importable as is (inside a Locust process) so the helpers can be tested directly. Keep each
helper self-contained apart from the imports listed in `locustfile_helpers_source.HELPERS`
(never one from another of these modules), and plain: people read them in their locustfiles.
"""
