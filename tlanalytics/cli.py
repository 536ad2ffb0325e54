"""The ``tlanalytics`` command line (also ``python -m tlanalytics``).

Subcommands::

    tlanalytics fetch -o uploads.csv       # or .parquet, .jsonl
    tlanalytics summary [--json]           # key figures as a table on stdout
    tlanalytics report [-o DIR]            # DIR/uploads.csv (+ sidecar), report.html, overview.png
    tlanalytics check [--max-expiring N] [--within HOURS] [--max-failed N] [--max-stuck-bytes BYTES]
    tlanalytics simulate [--port N] [--uploads N] [--seed S] [--latency MS]

fetch, summary, report and check read the account of the key in
``TWELVELABS_API_KEY`` (or ``TWELVE_LABS_API_KEY``); no option takes the key,
so it never lands in shell history. ``--demo`` reads the shipped sample of
3,000 sessions from an in-process simulator instead, through the same HTTP
path. Progress bars, warnings and errors go to stderr; results to stdout.
The key is never printed or logged, not even with ``--debug``.

check's thresholds: ``--max-expiring`` counts open sessions (status none of
completed, failed, expired; not past expiry) expiring within ``--within`` hours
(default: fail on any within 1 h); ``--max-failed`` counts sessions whose
status is failed; ``--max-stuck-bytes`` sums the ``total_size`` of stuck
sessions: open sessions that are stalled or at risk when progress is known
(``--with-progress``), else open sessions expiring within ``--within`` hours.

Exit codes:

- 0: success (check: every threshold held);
- 1: check: a threshold was crossed;
- 2: usage error (unknown option, bad value);
- 3: configuration error: no API key, an unusable or insecure base URL, a
  missing optional dependency (pyarrow), a port already in use;
- 4: API error: the key was rejected, or 429s, 5xx, timeouts or malformed
  responses kept coming after every retry;
- 5: file error: an output could not be written;
- 70: internal error (a bug: run again with ``--debug`` and report the traceback);
- 130: interrupted (Ctrl+C or SIGTERM; ``simulate`` exits 0 when stopped so);
- 141: stdout was closed early (e.g. piped into ``head``); nothing is printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path

from . import __version__
from .keys import key_from_env, redact

__all__ = ["main"]

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_API, EXIT_FILE = 0, 1, 2, 3, 4, 5
EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 70, 130, 141
_FORMATS = (".csv", ".parquet", ".jsonl")
_EPILOG = """\
The API key is read from TWELVELABS_API_KEY (or TWELVE_LABS_API_KEY) only;
the base URL from --base-url, else TWELVELABS_BASE_URL, else the public API.
Try any command with --demo to use built-in sample data.

exit codes:
  0    success (check: every threshold held)
  1    check: a threshold was crossed
  2    usage error
  3    configuration error (no API key, bad or insecure base URL, missing pyarrow, port in use)
  4    API error (key rejected, rate limits / server errors / timeouts after every retry)
  5    file error (an output could not be written)
  70   internal error (run again with --debug and report the traceback)
  130  interrupted (simulate exits 0 when stopped with Ctrl+C)
  141  stdout closed early (e.g. piped into head)
"""
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


class _Failure(Exception):
    """An error already worded for the terminal, with its exit code."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


# --- argument types ---------------------------------------------------------------

def _positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, but {text!r} was given")
    return value


def _count(text):
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, but {text!r} was given")
    return value


def _hours(text):
    """argparse type: a positive number of hours."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e6:
        raise argparse.ArgumentTypeError(f"must be a positive number of hours, but {text!r} was given")
    return value


def _bytes(text):
    """argparse type: bytes, optionally with a decimal or binary unit (``10GiB``)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match and _UNITS.get(match.group(2).lower())
    if not unit:
        raise argparse.ArgumentTypeError(
            f"must be a number of bytes, optionally with a unit (KiB, MiB, GiB, TiB, KB, MB, GB, TB), "
            f"but {text!r} was given")
    return int(float(match.group(1)) * unit)


def _timestamp(text):
    """argparse type: an ISO 8601 moment as a UTC Timestamp (naive means UTC)."""
    from .errors import InvalidArgumentError
    from .validate import as_of

    try:
        return as_of(text)
    except InvalidArgumentError:
        raise argparse.ArgumentTypeError(f"must be an ISO 8601 timestamp between the years 1677 and 2262 such as "
                                         f"2025-12-01T10:00:00Z, but {text!r} was given") from None


def _output_file(text):
    """argparse type: a path ending in a supported format's extension."""
    if Path(text).suffix.lower() not in _FORMATS:
        raise argparse.ArgumentTypeError(f"must end with one of {', '.join(_FORMATS)}, but {text!r} was given")
    return Path(text)


# --- the parser ---------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"tlanalytics: error: {message} (see `{self.prog} --help`)\n")


def _parser():
    """The argument parser of every subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument("--demo", action="store_true",
                       help="read the shipped sample of 3,000 sessions from a built-in local simulator (no key needed)")
    group.add_argument("--base-url", metavar="URL",
                       help="API root (default: $TWELVELABS_BASE_URL, else https://api.twelvelabs.io/v1.3)")
    group.add_argument("--workers", type=_positive_int, default=32, metavar="N",
                       help="most requests in flight at once: the adaptive window's ceiling (default: 32)")
    group.add_argument("--with-progress", action="store_true",
                       help="also read every session's progress (one request per session)")
    group.add_argument("--as-of", type=_timestamp, metavar="TIMESTAMP",
                       help="compute ages and times to expiry relative to this ISO 8601 moment (default: now)")
    group.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    group.add_argument("--debug", action="store_true", help="show tracebacks and DEBUG logs on stderr")

    parser = _Parser(
        prog="tlanalytics", description="Analyse the incomplete multipart-upload sessions of a TwelveLabs account.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name, help_text, **kwargs):
        return sub.add_parser(name, help=help_text, description=help_text, epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    p = add("fetch", "Load every session and write the table to a file.", parents=[common])
    p.add_argument("-o", "--output", type=_output_file, required=True, metavar="FILE",
                   help="file to write; the format follows the extension: .csv (with a .meta.json sidecar), "
                        ".parquet, .jsonl")
    p = add("summary", "Print the key figures as a table.", parents=[common])
    p.add_argument("--json", action="store_true", help="print the key figures as JSON instead")
    p = add("report", "Write uploads.csv, report.html (self-contained) and overview.png into a folder.",
            parents=[common])
    p.add_argument("-o", "--output", type=Path, default=Path("tlanalytics-report"), metavar="DIR",
                   help="folder to write into, created if needed (default: ./tlanalytics-report)")
    p.add_argument("--title", help="heading of the HTML report")
    p = add("check", "Exit 1 with a one-line reason when a threshold is crossed, else 0 (for cron and CI).",
            parents=[common])
    p.add_argument("--max-expiring", type=_count, default=0, metavar="N",
                   help="most open sessions allowed to expire within --within hours (default: 0)")
    p.add_argument("--within", type=_hours, default=1.0, metavar="HOURS",
                   help="the expiry window of --max-expiring (and of --max-stuck-bytes without progress; default: 1)")
    p.add_argument("--max-failed", type=_count, metavar="N", help="most sessions allowed with status failed")
    p.add_argument("--max-stuck-bytes", type=_bytes, metavar="BYTES",
                   help="most bytes (total_size, e.g. 10GiB) allowed in stuck sessions: open sessions stalled or at "
                        "risk with --with-progress, else open sessions expiring within --within hours")
    p = add("simulate", "Serve a local simulator of the API in the foreground until Ctrl+C.")
    p.add_argument("--port", type=_count, default=8765, help="port on 127.0.0.1; 0 picks a free one (default: 8765)")
    p.add_argument("--uploads", type=_count, metavar="N",
                   help="serve N generated sessions (default: the shipped sample of 3,000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated sessions (default: 0)")
    p.add_argument("--latency", type=float, default=0.0, metavar="MS", help="milliseconds added to every request")
    p.add_argument("--debug", action="store_true", help="show tracebacks and DEBUG logs on stderr")
    return parser


# --- output helpers -------------------------------------------------------------------

def _redact(text):
    """``text`` with any API key from the environment replaced (a safety net: none should be there)."""
    return redact(text, mark="<hidden>")


class _RedactingFormatter(logging.Formatter):
    """A log formatter that redacts the API key from every record."""

    def format(self, record):
        return _redact(super().format(record))


def _setup_logging(debug):
    """Log to stderr (DEBUG with ``--debug``), warnings as one line; returns a function undoing it."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, warnings.showwarning
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    for noisy in ("matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.INFO if debug else logging.WARNING)

    def show(message, category, filename, lineno, file=None, line=None):
        print(_redact(f"tlanalytics: warning: {message}"), file=sys.stderr)

    warnings.showwarning = show

    def restore():
        root.handlers[:], level, warnings.showwarning = saved
        root.setLevel(level)

    return restore


def _out(text=""):
    """Print a result line on stdout."""
    print(_redact(text), file=sys.stdout, flush=True)


# --- commands ------------------------------------------------------------------------

def _load(args):
    """The uploads frame for fetch/summary/report/check."""
    from .client import load_uploads

    options = dict(max_workers=args.workers, progress=not args.no_progress, as_of=args.as_of,
                   with_progress=args.with_progress)
    if args.demo:
        from .simulator import Simulator

        with Simulator() as sim:
            df = load_uploads(sim.api_key, base_url=sim.base_url, **options)
        df.attrs["demo"] = True
        return df
    if key_from_env() is None:
        raise _Failure(f"no API key: set TWELVELABS_API_KEY (or TWELVE_LABS_API_KEY) in the environment, "
                       f"or try `tlanalytics {args.command} --demo` to use built-in sample data", EXIT_CONFIG)
    return load_uploads(None, base_url=args.base_url, **options)


def _fetch(args):
    """``fetch``: write the frame to ``-o FILE``."""
    if args.output.suffix.lower() == ".parquet":
        from .export import _pyarrow

        _pyarrow()  # fail before loading anything
    df = _load(args)
    from .export import write_frame

    path = write_frame(df, args.output)
    _out(f"Wrote {len(df):,} sessions to {path}")
    return EXIT_OK


def _jsonable(value):
    """Key figures with Timestamps as ISO strings and Timedeltas as seconds."""
    import pandas as pd

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    return value


def _summary(args):
    """``summary``: the key figures as a table (or JSON) on stdout."""
    from .reporting import _clean_url, _kpi_rows, summarize

    df = _load(args)
    kpis = summarize(df)
    if args.json:
        kpis = {**kpis, "base_url": _clean_url(kpis["base_url"])}
        _out(json.dumps(_jsonable(kpis), indent=2))
        return EXIT_OK
    rows = _kpi_rows(kpis) + [(f"Status {s}", f"{n:,}") for s, n in kpis["status_counts"].items()]
    rows.append(("Source", _clean_url(kpis["base_url"]) or "n/a"))
    width = max(len(label) for label, _ in rows)
    _out("\n".join(f"{label:<{width}}  {value}" for label, value in rows))
    return EXIT_OK


def _report(args):
    """``report``: uploads.csv (+ sidecar), report.html and overview.png in ``-o DIR``."""
    from .export import to_csv
    from .reporting import _overview_png, _write_html

    df = _load(args)
    folder = args.output
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = to_csv(df, folder / "uploads.csv")
    png_path = folder / "overview.png"
    png = _overview_png(df)
    png_path.write_bytes(png)
    html_path = _write_html(df, folder / "report.html", title=args.title, png=png if len(df) else None)
    for path in (csv_path, Path(str(csv_path) + ".meta.json"), html_path, png_path):
        _out(str(path))
    return EXIT_OK


def _check(args):
    """``check``: one line and exit 1 when a threshold is crossed, else OK and 0."""
    import pandas as pd

    from ._units import format_bytes
    from .reporting import _expiring_mask, _flags, _has_progress, _open_mask

    df = _load(args)
    within = pd.Timedelta(hours=args.within)
    hours = f"{args.within:g} h"
    expiring = _expiring_mask(df, within)
    results = [(int(expiring.sum()) > args.max_expiring,
                f"{int(expiring.sum()):,} sessions expire within {hours} (allowed: {args.max_expiring:,})")]
    if args.max_failed is not None:
        failed = int((df["status"].astype("object") == "failed").sum())
        results.append((failed > args.max_failed, f"{failed:,} sessions failed (allowed: {args.max_failed:,})"))
    if args.max_stuck_bytes is not None:
        if _has_progress(df):
            stuck = _open_mask(df) & (_flags(df["stalled"]) | _flags(df["at_risk"]))
            what = "stalled or at-risk sessions"
        else:
            stuck, what = expiring, f"sessions expiring within {hours}"
        size = int(df.loc[stuck, "total_size"].sum())
        results.append((size > args.max_stuck_bytes, f"{format_bytes(size)} ({size:,} bytes) stuck in {int(stuck.sum()):,} "
                                                     f"{what} (allowed: {format_bytes(args.max_stuck_bytes)})"))
    failed = [text for bad, text in results if bad]
    if failed:
        _out("FAIL: " + "; ".join(failed))
        return EXIT_CHECK_FAILED
    _out("OK: " + "; ".join(text for _, text in results))
    return EXIT_OK


def _simulate(args):
    """``simulate``: serve a simulator in the foreground until interrupted."""
    from .simulator import Simulator, generate_uploads

    uploads = None if args.uploads is None else generate_uploads(args.uploads, seed=args.seed)
    if args.latency < 0:
        raise _Failure(f"--latency must be >= 0 milliseconds, but {args.latency:g} was given", EXIT_USAGE)
    sim = Simulator(uploads, port=args.port, latency=args.latency / 1000)
    try:
        with sim:
            _out(f"Simulator serving {len(sim.sessions())} sessions at {sim.base_url}")
            _out(f"  export TWELVELABS_BASE_URL={sim.base_url}")
            _out(f"  export TWELVELABS_API_KEY={sim.api_key}")
            _out("Press Ctrl+C to stop.")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:  # Ctrl+C (or SIGTERM) is how it is meant to stop, even while starting
        pass
    except OSError as exc:
        raise _Failure(f"cannot serve on 127.0.0.1:{args.port}: {exc.strerror or exc}", EXIT_CONFIG) from exc
    return EXIT_OK


_COMMANDS = {"fetch": _fetch, "summary": _summary, "report": _report, "check": _check, "simulate": _simulate}


# --- errors and main ---------------------------------------------------------------------

def _classify(exc):
    """``(exit code, one-line message)`` for an exception raised by a command."""
    from .errors import APIError, ConfigurationError, FileFormatError, InvalidArgumentError, TLAnalyticsError

    if isinstance(exc, _Failure):
        return exc.code, str(exc)
    if isinstance(exc, APIError):
        return EXIT_API, str(exc)
    if isinstance(exc, (ConfigurationError, InvalidArgumentError)):
        return EXIT_CONFIG, str(exc)
    if isinstance(exc, FileFormatError):
        return EXIT_FILE, str(exc)
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return EXIT_FILE, f"cannot write{where}: {exc.strerror or exc}"
    if isinstance(exc, TLAnalyticsError):
        return EXIT_CONFIG, str(exc)
    return EXIT_INTERNAL, (f"unexpected {type(exc).__name__}: {exc} "
                           f"(run again with --debug for the traceback, and please report it)")


def _on_sigterm(signum, frame):
    """Stop on SIGTERM as on Ctrl+C."""
    raise KeyboardInterrupt


def main(argv=None):
    """Run the ``tlanalytics`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        The exit code (see the module docstring).

    Examples
    --------
    >>> main(["summary", "--demo", "--no-progress"])  # doctest: +SKIP
    0
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "demo", False) and args.base_url:
        print("tlanalytics: error: --demo and --base-url cannot be used together", file=sys.stderr)
        return EXIT_USAGE
    restore_logging = _setup_logging(args.debug)
    previous = None
    if hasattr(signal, "SIGTERM") and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)  # a terminated run stops like Ctrl+C
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("tlanalytics: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout closed early, e.g. `tlanalytics summary | head -3`: not an error to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - every error becomes one line and an exit code
        code, message = _classify(exc)
        if args.debug:
            print(_redact(traceback.format_exc()), file=sys.stderr, end="")
        print(_redact(f"tlanalytics: error: {message}".replace("\n", " ")), file=sys.stderr)
        return code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        restore_logging()
        sys.stdout.flush()
