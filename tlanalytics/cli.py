"""The ``tlanalytics`` command line (also ``python -m tlanalytics``).

Subcommands::

    tlanalytics fetch -o uploads.csv       # or .parquet, .jsonl
    tlanalytics summary [--json]           # key figures as a table on stdout
    tlanalytics report [-o DIR] [--listing-only]  # DIR/report.html, overview.png, uploads.csv (+ sidecar)
    tlanalytics check [--max-expiring N] [--within HOURS] [--max-failed N] [--max-stuck-bytes BYTES]
    tlanalytics simulate [--port N] [--uploads N] [--seed S] [--latency MS]
    tlanalytics dashboard [--store DIR] [--port N] [--host HOST]   # the explorer as a web page (Voilà)
    tlanalytics snapshot [--store DIR] [--with-progress] [--no-compact]   # for cron: one line; compacts closed days
    tlanalytics history [--store DIR] [--since T] [--until T] [--freq D] [--json] [--demo]

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

Exit codes: :data:`EXIT_CODES` (also in ``--help`` and the README, which a
test compares with it). Requests in flight at Ctrl+C or SIGTERM are abandoned,
not awaited.

A closed stderr changes nothing but what is shown: the exit code stays the
one in the table. A traceback is only ever printed with ``--debug``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

from . import __version__
from ._defaults import MAX_RETRIES, MAX_WORKERS
from .keys import key_from_env, redact

__all__ = ["main", "EXIT_CODES", "exit_code_table_markdown"]

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_API, EXIT_FILE = 0, 1, 2, 3, 4, 5
EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE, EXIT_TERMINATED = 70, 130, 141, 143
#: What each exit code means: the one table behind ``--help`` and the README's table.
EXIT_CODES = {
    EXIT_OK: "success (`check`: every threshold held)",
    EXIT_CHECK_FAILED: "`check`: a threshold was crossed",
    EXIT_USAGE: "usage error",
    EXIT_CONFIG: "configuration error (no API key, bad or insecure base URL, missing pyarrow or voila, port in use)",
    EXIT_API: "API error (key rejected; rate limits, server errors or timeouts after every retry)",
    EXIT_FILE: "file error (an output could not be written; `history`: no snapshots, or a damaged snapshot file)",
    EXIT_INTERNAL: "internal error (run again with `--debug` and report the traceback)",
    EXIT_INTERRUPTED: "interrupted by Ctrl+C (`simulate` and `dashboard` exit 0 when stopped with Ctrl+C); "
                      "no partial output file is left",
    EXIT_BROKEN_PIPE: "stdout closed early (e.g. piped into `head`)",
    EXIT_TERMINATED: "stopped by SIGTERM (e.g. `timeout 60 tlanalytics check`); no partial output file is left",
}
_FORMATS = (".csv", ".parquet", ".jsonl")
_EPILOG = """\
The API key is read from TWELVELABS_API_KEY (or TWELVE_LABS_API_KEY) only;
the base URL from --base-url, else TWELVELABS_BASE_URL, else the public API.
Try any command with --demo to use built-in sample data.

exit codes:
""" + "".join(f"  {code:<4} {meaning.replace('`', '')}\n" for code, meaning in EXIT_CODES.items())


def exit_code_table_markdown():
    """The README's exit-code table, as Markdown, generated from :data:`EXIT_CODES`.

    Returns
    -------
    str
        One row per exit code, with its meaning.

    Examples
    --------
    >>> print(exit_code_table_markdown().splitlines()[2])
    | 0 | success (`check`: every threshold held) |
    """
    from .schema import markdown_table

    return markdown_table(["code", "meaning"], EXIT_CODES.items())


_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


class _Failure(Exception):
    """An error already worded for the terminal, with its exit code."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


# --- argument types ---------------------------------------------------------------

def _number(convert, accepts, wanted):
    """An argparse type: ``convert(text)`` when that works and ``accepts`` it, else "must be ``wanted``"."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accepts(value):
            raise argparse.ArgumentTypeError(f"must be {wanted}, but {text!r} was given")
        return value
    return parse


_positive_int = _number(int, lambda value: value >= 1, "a positive integer")
_count = _number(int, lambda value: value >= 0, "an integer >= 0")
_hours = _number(float, lambda value: 0 < value < 1e6, "a positive number of hours")


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
    group.add_argument("--workers", type=_positive_int, default=MAX_WORKERS, metavar="N",
                       help=f"most requests in flight at once: the adaptive window's ceiling (default: {MAX_WORKERS})")
    group.add_argument("--retries", type=_count, default=MAX_RETRIES, metavar="N",
                       help="retries of one request after a 429, 5xx, connection error or timeout, with "
                            f"exponential backoff (default: {MAX_RETRIES}; 0 gives up at the first failure)")
    group.add_argument("--with-progress", action="store_true",
                       help="also read the upload progress of every open session (one request per open session; "
                            "report does this by default)")
    group.add_argument("--as-of", type=_timestamp, metavar="TIMESTAMP",
                       help="compute ages and times to expiry relative to this ISO 8601 moment (default: now)")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="no progress bars (they appear only when stderr is a terminal)")
    group.add_argument("--no-progress", dest="quiet", action="store_true", help=argparse.SUPPRESS)
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
    p.add_argument("--excel", action="store_true",
                   help="CSV for spreadsheets: UTF-8 with BOM, UTC times as YYYY-MM-DD HH:MM:SS, durations in hours "
                        "(not for exact round trips; .csv only)")
    p = add("summary", "Print the key figures as a table.", parents=[common])
    p.add_argument("--json", action="store_true", help="print the key figures as JSON instead")
    p = add("report", "Write report.html (self-contained), overview.png and uploads.csv into a folder. Reads the "
                      "progress of every open session (one request each) unless --listing-only.", parents=[common])
    p.add_argument("--listing-only", action="store_true",
                   help="do not read progress: one request per 50 sessions, but stalled and at-risk are unknown")
    p.add_argument("-o", "--output", type=Path, default=Path("tlanalytics-report"), metavar="DIR",
                   help="folder to write into, created if needed (default: ./tlanalytics-report)")
    p.add_argument("--title", help="heading of the HTML report")
    p.add_argument("--store", type=Path, metavar="DIR", help="add a Trends section from this snapshot store")
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
    p = add("simulate", "Serve the local API simulator (the listing and status endpoints) on 127.0.0.1 in the "
                        "foreground until Ctrl+C, and print the TWELVELABS_BASE_URL and TWELVELABS_API_KEY to "
                        "export. Without --uploads it serves the shipped sample of 3,000 sessions, timestamps "
                        "shifted to now.")
    p.add_argument("--port", type=_count, default=8765, help="port on 127.0.0.1; 0 picks a free one (default: 8765)")
    p.add_argument("--uploads", type=_count, metavar="N",
                   help="serve N generated sessions (default: the shipped sample of 3,000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sessions --uploads generates (default: 0)")
    p.add_argument("--latency", type=float, default=0.0, metavar="MS", help="milliseconds added to every request")
    p.add_argument("--debug", action="store_true", help="show tracebacks and DEBUG logs on stderr")
    p = add("dashboard", "Serve the explorer as a web page (Voilà) until Ctrl+C.", parents=[common])
    p.add_argument("--store", metavar="DIR", help="snapshot-history folder to show in the page")
    p.add_argument("--port", type=_count, default=8866, help="port to listen on; 0 picks a free one (default: 8866)")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to listen on (default: 127.0.0.1); off loopback the URL carries a token")
    _history_parsers(add, common)
    return parser


def _history_parsers(add, common):
    """The ``snapshot`` and ``history`` subcommands."""
    store_help = "snapshot store folder (default: $TLANALYTICS_STORE, else the per-user data folder)"
    p = add("snapshot", "Load the listing once and append it to the snapshot store (for cron: one line on success).",
            parents=[common])
    p.add_argument("--store", type=Path, metavar="DIR", help=store_help)
    p.add_argument("--no-compact", action="store_true",
                   help="leave closed days hourly (by default each day before the newest is compacted into one file)")
    p = add("history", "Print the trends of the snapshot store: sessions created, completed, expired, bytes wasted.")
    p.add_argument("--store", type=Path, metavar="DIR", help=store_help)
    p.add_argument("--since", type=_timestamp, metavar="TIMESTAMP", help="only snapshots from this ISO 8601 moment")
    p.add_argument("--until", type=_timestamp, metavar="TIMESTAMP", help="only snapshots up to this ISO 8601 moment")
    p.add_argument("--freq", choices=["h", "D", "W", "M"], default="D",
                   help="period: h(our), D(ay), W(eek), M(onth) (default: D)")
    p.add_argument("--json", action="store_true", help="print the trend table as JSON instead")
    p.add_argument("--demo", action="store_true", help="30 days of simulated hourly snapshots instead of a store")
    p.add_argument("--on-damaged", choices=["raise", "warn"], default="raise",
                   help="a damaged snapshot file is an error (raise, default) or skipped with a warning (warn)")
    p.add_argument("--debug", action="store_true", help="show tracebacks and DEBUG logs on stderr")
    p.set_defaults(base_url=None)


# --- output helpers -------------------------------------------------------------------

def _redact(text):
    """``text`` with any API key from the environment replaced (a safety net: none should be there)."""
    return redact(text, mark="<hidden>")


def _setup_logging(debug):
    """Log to stderr (DEBUG with ``--debug``), warnings as one line; returns a function undoing it."""
    import logging  # here, not at the top: ``--help`` and usage errors never log (start-up time, issue 15)

    class _RedactingFormatter(logging.Formatter):
        """A log formatter that redacts the API key from every record."""

        def format(self, record):
            return _redact(super().format(record))

    root = logging.getLogger()
    saved = root.handlers[:], root.level, warnings.showwarning
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    for noisy in ("matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.INFO if debug else logging.WARNING)

    def show(message, category, filename, lineno, file=None, line=None):
        _err(f"tlanalytics: warning: {message}")

    warnings.showwarning = show

    def restore():
        root.handlers[:], level, warnings.showwarning = saved
        root.setLevel(level)

    return restore


def _out(text=""):
    """Print a result line on stdout (BrokenPipeError when stdout is gone: exit 141)."""
    if sys.stdout is None:
        raise BrokenPipeError("stdout is closed")
    try:
        print(_redact(text), file=sys.stdout, flush=True)
    except (OSError, ValueError) as exc:  # EPIPE, or a closed descriptor (EBADF): stdout is gone either way
        raise BrokenPipeError("stdout is closed") from exc


class _SafeStderr:
    """sys.stderr for the run: writes to a closed or broken stderr are dropped instead of raised.

    Progress bars, warnings and log records all write to stderr; none of them
    may turn a closed stderr into another exit code or a traceback.
    """

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        if self._stream is not None:
            try:
                return self._stream.write(text)
            except (OSError, ValueError):
                self._stream = None
        return len(text)

    def flush(self):
        if self._stream is not None:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._stream = None

    def isatty(self):
        try:
            return self._stream is not None and self._stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self):
        if self._stream is None:
            raise OSError("stderr is closed")
        return self._stream.fileno()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _err(text):
    """One line on stderr, redacted; nothing when stderr is gone."""
    print(_redact(text), file=sys.stderr, flush=True)


def _write_atomically(write, df, path):
    """``write(df, temp)`` into ``path``'s folder, then ``os.replace``: an interrupted write leaves no partial file.

    A CSV's ``.meta.json`` sidecar is moved the same way (sidecar first, so a
    CSV never appears without it).
    """
    import tempfile

    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=folder)
    os.close(fd)
    temp = Path(temp)
    sidecar_temp, sidecar = Path(str(temp) + ".meta.json"), Path(str(path) + ".meta.json")
    try:
        written = Path(write(df, temp))
        if sidecar_temp.exists():
            os.replace(sidecar_temp, sidecar)
        os.replace(written, path)
    finally:
        for leftover in (temp, sidecar_temp):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass
    return path


# --- commands ------------------------------------------------------------------------

# Library messages name Python parameters; on the command line they name flags.
_FLAG_WORDS = {"The value for `base_url`": "The value of --base-url", "`base_url`": "--base-url",
               "`max_workers`": "--workers", "`max_retries`": "--retries", "`as_of`": "--as-of",
               "`api_key`": "TWELVELABS_API_KEY"}
_NO_FLAG = re.compile(r"(?<=or raise )`timeout` or ")  # no flag sets the timeout


def _in_flag_words(exc):
    """Reword a library error's message for the command line (same exception, same exit code)."""
    from .errors import TLAnalyticsError

    if isinstance(exc, TLAnalyticsError) and exc.args and isinstance(exc.args[0], str):
        text = _NO_FLAG.sub("", exc.args[0])
        for words, flag in _FLAG_WORDS.items():
            text = text.replace(words, flag)
        exc.args = (text, *exc.args[1:])
    return exc


def _load(args, *, progress=None):
    """The uploads frame for fetch/summary/report/check; ``progress``: read open sessions' progress."""
    try:
        return _read(args, progress)
    except Exception as exc:
        raise _in_flag_words(exc)


def _bars(args):
    """Progress bars only where a person watches: stderr is a terminal and ``--quiet`` is off."""
    return not args.quiet and sys.stderr.isatty()


def _read(args, progress):
    """:func:`_load` without the rewording."""
    from .client import add_progress, load_uploads
    from .metrics import open_mask

    if progress is None:
        progress = args.with_progress
    options = dict(max_workers=args.workers, max_retries=args.retries, progress=_bars(args))

    def read(api_key, base_url):
        df = load_uploads(api_key, base_url=base_url, as_of=args.as_of, **options)
        if progress and len(df):
            df = add_progress(df, only=open_mask(df), api_key=api_key, base_url=base_url, **options)
        return df

    if args.demo:
        from .simulator import Simulator

        with Simulator() as sim:
            df = read(sim.api_key, sim.base_url)
        df.attrs["demo"] = True
        return df
    if key_from_env() is None:
        example = "fetch --demo -o uploads.csv" if args.command == "fetch" else f"{args.command} --demo"
        raise _Failure(f"no API key: set TWELVELABS_API_KEY (or TWELVE_LABS_API_KEY) in the environment, "
                       f"or try `tlanalytics {example}` to use built-in sample data", EXIT_CONFIG)
    return read(None, args.base_url)


def _check_output(path, *, folder=False):
    """Fail (exit 5) before any request unless ``path`` can be written: a file, or a folder with ``folder``."""
    path = Path(path)
    if folder:
        if path.exists() and not path.is_dir():
            raise _Failure(f"cannot write into {path}: it is a file, not a folder (-o takes a folder)", EXIT_FILE)
        existing = next(p for p in (path, *path.parents) if p.exists())  # "." or "/" at the latest
        if not existing.is_dir():
            raise _Failure(f"cannot create the folder {path}: {existing} is a file", EXIT_FILE)
        if not os.access(existing, os.W_OK | os.X_OK):
            raise _Failure(f"cannot write into {existing}: permission denied", EXIT_FILE)
        return
    if path.is_dir():
        raise _Failure(f"cannot write {path}: it is a folder; give a file name such as {path / 'uploads.csv'}",
                       EXIT_FILE)
    parent = path.parent
    if not parent.is_dir():
        raise _Failure(f"cannot write {path}: the folder {parent} does not exist", EXIT_FILE)
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise _Failure(f"cannot write {path}: permission denied", EXIT_FILE)


def _plural(n, word):
    """:func:`tlanalytics._units.plural`, imported on use (``--help`` must not import pandas)."""
    from ._units import plural

    return plural(n, word)


def _fetch(args):
    """``fetch``: write the frame to ``-o FILE``."""
    if args.excel and args.output.suffix.lower() != ".csv":
        raise _Failure(f"--excel writes CSV only, but -o {args.output} is not a .csv file", EXIT_USAGE)
    _check_output(args.output)
    if args.output.suffix.lower() == ".parquet":
        from .export import require_pyarrow

        require_pyarrow()  # fail before loading anything
    df = _load(args)
    from .export import write_frame

    options = {"excel": True} if args.excel else {}
    path = _write_atomically(lambda frame, temp: write_frame(frame, temp, **options), df, args.output)
    _out(f"Wrote {_plural(len(df), 'session')} to {path}")
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
    from .metrics import summarize
    from .reporting import clean_url, source_text, summary_rows

    df = _load(args)
    s = summarize(df)
    if args.json:
        figures = s.to_dict()
        figures["base_url"] = None if s.demo else clean_url(figures["base_url"])
        figures["source"] = source_text(s)
        _out(json.dumps(_jsonable(figures), indent=2))
        return EXIT_OK
    rows = summary_rows(s) + [(f"Status {name}", f"{n:,}") for name, n in s.status_counts.items()]
    width = max(len(label) for label, _ in rows)
    _out("\n".join(f"{label:<{width}}  {value}" for label, value in rows))
    return EXIT_OK


def _report(args):
    """``report``: report.html, overview.png and uploads.csv (+ sidecar) in ``-o DIR``."""
    from .export import to_csv
    from .metrics import summarize
    from .reporting import headline, overview_png, report

    _check_output(args.output, folder=True)
    df = _load(args, progress=not args.listing_only)
    folder = args.output
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = to_csv(df, folder / "uploads.csv")
    png_path = folder / "overview.png"
    png_path.write_bytes(overview_png(df))
    html_path = report(df, folder / "report.html", title=args.title, trends=_report_trends(args))
    for path in (csv_path, Path(str(csv_path) + ".meta.json"), png_path):
        _out(str(path))
    _out(f"{html_path.resolve().as_uri()} {headline(summarize(df))}")
    return EXIT_OK


def _check(args):
    """``check``: one line and exit 1 when a threshold is crossed, else OK and 0."""
    from .metrics import evaluate_check

    df = _load(args)
    result = evaluate_check(df, max_expiring=args.max_expiring, within=args.within, max_failed=args.max_failed,
                            max_stuck_bytes=args.max_stuck_bytes)
    if not result.ok:
        _out("FAIL: " + "; ".join(result.reasons))
        return EXIT_CHECK_FAILED
    _out("OK: " + "; ".join(result.figures))
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


def _dashboard(args):
    """``dashboard``: serve the explorer as a web page until interrupted."""
    from . import dashboard

    if args.store is not None:
        dashboard.require_history()
        if not Path(args.store).is_dir():
            raise _Failure(f"--store {args.store}: no such folder", EXIT_CONFIG)
    if not args.demo and key_from_env() is None:
        raise _Failure("no API key: set TWELVELABS_API_KEY (or TWELVE_LABS_API_KEY) in the environment, "
                       "or try `tlanalytics dashboard --demo` to use built-in sample data", EXIT_CONFIG)
    cfg = dashboard.DashboardSettings(
        demo=args.demo, base_url=args.base_url, workers=args.workers, retries=args.retries,
        with_progress=args.with_progress,
        as_of=None if args.as_of is None else args.as_of.isoformat(), store=args.store,
        progress_bars=_bars(args))
    token = None if dashboard.is_loopback(args.host) else dashboard.new_token()

    def ready(url):
        _out(f"Dashboard serving at {url}")
        if token:
            _out("  The token in this URL is the only way in; it is not printed again.")
        _out("Press Ctrl+C to stop.")

    dashboard.skip_slow_imports()  # this process only serves the page: about 1 s less to start
    try:
        dashboard.serve(cfg, host=args.host, port=args.port, token=token, on_ready=ready, debug=args.debug)
    except KeyboardInterrupt:  # Ctrl+C (or SIGTERM) is how it is meant to stop
        pass
    return EXIT_OK



def _snapshot(args):
    """``snapshot``: load the listing and append it to the store, then compact closed days; one line."""
    from .histfiles import compact_history
    from .history import save_snapshot

    args.quiet = True  # cron: no progress bars
    df = _load(args)
    path = save_snapshot(df, args.store)
    done = [] if args.no_compact else compact_history(args.store)
    note = f" (compacted {_plural(len(done), 'closed day')})" if done else ""
    _out(f"Saved a snapshot of {_plural(len(df), 'session')} to {path}{note}")
    return EXIT_OK


def _history_frame(args):
    """The history of ``history``: the store opened (never a frame of every row), or the simulated demo history."""
    if getattr(args, "demo", False) and args.command == "history":
        from ._histsim import generate_history

        return generate_history(days=30, seed=0)
    from .histengine import open_history

    return open_history(args.store, since=getattr(args, "since", None), until=getattr(args, "until", None),
                        on_damaged=getattr(args, "on_damaged", "raise"))


def _report_trends(args):
    """The trend table of ``report``: from ``--store``, or 30 simulated days with ``--demo``; else None."""
    if not (args.store or args.demo):
        return None
    from ._histsim import generate_history
    from .histengine import open_history
    from .outcomes import trends

    return trends(generate_history(days=30, seed=0) if args.demo and not args.store else open_history(args.store))


def _history(args):
    """``history``: the trend table of the store on stdout (or JSON)."""
    import pandas as pd

    from .histviews import format_trends
    from .history import default_store
    from .outcomes import trends

    history = _history_frame(args)
    snapshots = history.attrs.get("snapshots", ()) if isinstance(history, pd.DataFrame) else history.state().snapshots
    if not len(snapshots):
        where = args.store or default_store()
        raise _Failure(f"no snapshots in {where}: run `tlanalytics snapshot` (e.g. hourly from cron) first, "
                       f"or try `tlanalytics history --demo`", EXIT_FILE)
    table = trends(history, args.freq)
    if args.json:
        records = []
        for period, row in table.iterrows():
            record = {"period": period.isoformat()}
            for name, value in row.items():
                if pd.isna(value):
                    value = None
                elif isinstance(value, pd.Timedelta):
                    value = value.total_seconds()
                elif name == "completion_rate":
                    value = float(value)
                else:
                    value = int(value)
                record[name] = value
            records.append(record)
        _out(json.dumps(records, indent=2))
        return EXIT_OK
    text = format_trends(table)
    widths = [max(len(h), *(len(v) for v in text[h])) for h in text.columns]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(text.columns, widths)))]
    for row in text.itertuples(index=False):
        lines.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))))
    _out("\n".join(lines))
    return EXIT_OK


_COMMANDS = {"fetch": _fetch, "summary": _summary, "report": _report, "check": _check, "simulate": _simulate,
             "dashboard": _dashboard, "snapshot": _snapshot, "history": _history}


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


class _Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop like Ctrl+C, exit 143."""


_STOPPING = threading.Event()  # set by the first SIGINT/SIGTERM of a run; later ones are ignored


def _on_signal(signum, frame):
    """Stop on the first SIGINT (KeyboardInterrupt) or SIGTERM (_Terminated); ignore any that follow.

    Ignoring from the handler itself leaves no window in which a second
    signal could interrupt the first one's handling with a traceback.
    """
    if _STOPPING.is_set():
        return
    _STOPPING.set()
    raise _Terminated if signum == getattr(signal, "SIGTERM", None) else KeyboardInterrupt


def main(argv=None):
    """Run the ``tlanalytics`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        The exit code (see :data:`EXIT_CODES`).

    Notes
    -----
    While it runs in the main thread, Ctrl+C (SIGINT) and SIGTERM stop the
    command with exit code 130 or 143. Run as the command (``argv`` None),
    both stay ignored after such a stop so the exit is not cut short; called
    with ``argv``, the previous handlers are always restored.

    Examples
    --------
    >>> main(["summary", "--demo", "--no-progress"])  # doctest: +SKIP
    0
    """
    saved_stderr = sys.stderr
    sys.stderr = _SafeStderr(saved_stderr)
    try:
        return _main(argv)
    finally:
        sys.stderr = saved_stderr


def _main(argv):
    """:func:`main` with a stderr that never raises."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except BrokenPipeError:  # --help into a closed pipe
        return EXIT_BROKEN_PIPE
    if getattr(args, "demo", False) and args.base_url:
        _err("tlanalytics: error: --demo and --base-url cannot be used together")
        return EXIT_USAGE
    restore_logging = _setup_logging(args.debug)
    previous = previous_int = None
    if threading.current_thread() is threading.main_thread():
        _STOPPING.clear()
        previous_int = signal.signal(signal.SIGINT, _on_signal)
        if hasattr(signal, "SIGTERM"):
            previous = signal.signal(signal.SIGTERM, _on_signal)  # a terminated run stops like Ctrl+C
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt as exc:
        # Workers are daemon threads and the pool is not awaited: returning now ends the process now.
        # Run as the command (argv None), the process is ending: both signals stay ignored after main() returns,
        # so the exit is not cut short. Called with argv (a notebook, a script), the caller's handlers come back.
        if previous_int is not None and argv is None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            if previous is not None:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            previous = previous_int = None
        terminated = isinstance(exc, _Terminated)
        _err(f"tlanalytics: {'terminated' if terminated else 'interrupted'}")
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout closed early, e.g. `tlanalytics summary | head -3`: not an error to report
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except BaseException as exc:  # noqa: BLE001 - every error becomes one line and an exit code
        if isinstance(exc, SystemExit):
            raise
        code, message = _classify(exc)
        if args.debug:
            import traceback

            _err(traceback.format_exc().rstrip("\n"))
        _err(f"tlanalytics: error: {message}".replace("\n", " "))
        return code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)
        restore_logging()
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
        except (OSError, ValueError):
            _silence_stdout()


def _silence_stdout():
    """Point fd 1 at /dev/null so the interpreter's last flush of a closed stdout cannot print a traceback."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
