"""Defaults the client, the CLI and the dashboard share (no imports: ``tlanalytics --help`` reads them)."""

MAX_WORKERS = 32  # the adaptive window's ceiling: most requests in flight (benchmarks/RESULTS.md, issue 15)
MAX_RETRIES = 5  # retries of one request after a 429, 5xx, connection error or timeout
