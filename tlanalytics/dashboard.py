"""Serve the explorer as a web page with Voilà: the ``tlanalytics dashboard`` command.

Voilà runs a notebook (``templates/dashboard.ipynb``, shipped with the
package) in a fresh kernel for every page visit and serves its widgets as an
application, with the code hidden. The notebook is a few lines that read
:func:`settings`, :func:`load` the sessions and open :func:`tlanalytics.explore`; the kernel loads the
sessions itself (the demo simulator, or the API with the key from the
environment), so the key never travels to the page.

Start-up: Voilà renders progressively (the page and its scripts are sent at
once, outputs follow over a websocket), and the page's kernel is started from
a kernel spec of ours that runs :func:`tlanalytics._dashkernel.warm_up`: while
the browser loads the scripts, the kernel imports what the first view needs
and loads the sessions. The History tab (``--store``, or the simulated
history in demo mode) is built in a thread after the first view is shown
(:func:`history_view`); until then it says it is loading.

What is served is locked down: Voilà's own "lab" template loads Font Awesome
from a CDN, so pages use the ``tlanalytics`` template (``templates/voila``),
which drops every external URL; a Content-Security-Policy forbids the page
any other origin; no file of the working folder is served; the server
listens on 127.0.0.1 unless told otherwise, and off loopback it asks for a
token. Exports are offered as ``data:`` links, so no file server is needed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import ipaddress
import json
import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from ._dashkernel import history_view
from ._defaults import MAX_RETRIES, MAX_WORKERS
from .errors import ConfigurationError

__all__ = ["DashboardSettings", "settings", "load", "history_view", "serve", "NOTEBOOK"]

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
NOTEBOOK = TEMPLATES / "dashboard.ipynb"
KERNEL = "tlanalytics-dashboard"  # the kernel the notebook names; its spec is written by serve()
ENV_VAR = "TLANALYTICS_DASHBOARD"
INSTALL_HINT = 'the dashboard needs Voilà: pip install "tlanalytics[dashboard]"'
# Largest export embedded in the page as a data: link (the page has no file server to link to).
_INLINE_LIMIT = 256 * 2**20
# Only this origin: scripts and styles inline or from the server, the kernel's websocket, data: images.
_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'self'")


@dataclasses.dataclass(frozen=True)
class DashboardSettings:
    """What ``tlanalytics dashboard`` asked the page's kernel to show (never the API key).

    Attributes
    ----------
    demo : bool
        Read the shipped sample from a simulator started in the kernel.
    base_url : str or None
        API root (None: ``TWELVELABS_BASE_URL``, else the public API).
    workers : int
        Most requests in flight at once.
    retries : int
        Retries of one request (the client's ``max_retries``).
    with_progress : bool
        Also read every session's upload progress.
    as_of : str or None
        ISO 8601 moment the derived columns are relative to (None: now).
    store : str or None
        Snapshot-history folder (``--store``).
    export_dir : str or None
        Folder the page's exports are written to.
    progress_bars : bool
        Show a progress bar while *Refresh* loads.
    """

    demo: bool = False
    base_url: str | None = None
    workers: int = MAX_WORKERS
    retries: int = MAX_RETRIES
    with_progress: bool = False
    as_of: str | None = None
    store: str | None = None
    export_dir: str | None = None
    progress_bars: bool = True

    @property
    def inline_limit(self):
        """Largest CSV (bytes) the page offers as a ``data:`` download link."""
        return _INLINE_LIMIT

    def loader(self):
        """A callable ``loader(progress=...)`` returning the sessions (what *Refresh* calls)."""
        return functools.partial(_load, self)


def load(cfg, *, progress=False):
    """The sessions for a page; when they cannot be loaded, None, and the page says why.

    Parameters
    ----------
    cfg : DashboardSettings
        What to load.
    progress : bool, default False
        Show a progress bar while loading.

    Returns
    -------
    pandas.DataFrame or None
        The sessions (in a page's kernel, those it started loading as it
        started, see :func:`tlanalytics._dashkernel.warm_up`, unless
        ``progress`` asks for a bar); None after a :class:`~tlanalytics.errors.TLAnalyticsError`
        (a rejected key, an unreachable API), whose one-line message is then
        displayed in the page and logged. Messages never hold the key.

    Examples
    --------
    >>> df = load(DashboardSettings(demo=True))  # doctest: +SKIP
    """
    from ._dashkernel import take_prefetched
    from .errors import TLAnalyticsError

    try:
        early = None if progress else take_prefetched(cfg)  # the load the kernel started as it started
        return early.result() if early is not None else _load(cfg, progress=progress)
    except TLAnalyticsError as exc:
        import html

        from IPython.display import HTML, display

        log.error("The dashboard could not load the sessions: %s", exc)
        display(HTML(f"<p class='tlanalytics-error' style='color:#b00020'><b>Could not load the upload sessions."
                     f"</b> {html.escape(str(exc))}</p>"))
        return None


def _load(cfg, progress=None):
    """The sessions as ``cfg`` describes them; the key comes from the environment."""
    from .client import load_uploads

    options = dict(max_workers=cfg.workers, max_retries=cfg.retries, with_progress=cfg.with_progress,
                   as_of=cfg.as_of, progress=cfg.progress_bars if progress is None else progress)
    if not cfg.demo:
        return load_uploads(None, base_url=cfg.base_url, **options)
    from .simulator import Simulator

    with Simulator() as sim:
        df = load_uploads(sim.api_key, base_url=sim.base_url, **options)
    df.attrs["demo"] = True
    return df


def settings(environ=None):
    """The dashboard's settings, as ``tlanalytics dashboard`` put them in the kernel's environment.

    Parameters
    ----------
    environ : mapping, optional
        Where to read ``TLANALYTICS_DASHBOARD`` (JSON); ``os.environ`` when None.

    Returns
    -------
    DashboardSettings
        The defaults (the API, key from the environment) when the variable is not set.

    Raises
    ------
    ConfigurationError
        When the variable is not a JSON object of known settings.

    Examples
    --------
    >>> settings({"TLANALYTICS_DASHBOARD": '{"demo": true}'}).demo
    True
    """
    text = (os.environ if environ is None else environ).get(ENV_VAR)
    if not text:
        return DashboardSettings()
    try:
        values = json.loads(text)
        return DashboardSettings(**values)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{ENV_VAR} must hold the JSON settings of `tlanalytics dashboard`, "
                                 f"but it could not be read ({type(exc).__name__}).") from None


def is_loopback(host):
    """True when ``host`` is a loopback address (or ``localhost``): no token is needed there."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def skip_slow_imports():
    """Keep Voilà's import from building an IRI grammar the dashboard never uses (about 1 s of CPU).

    ``jupyter_server`` imports ``jsonschema``, whose optional ``iri`` format
    check imports ``rfc3987_syntax``, which compiles a Lark grammar at import:
    that was 1.1 of the 1.7 s Voilà took to import. No schema of
    ``jupyter_server``, ``jupyter_events``, ``nbformat`` or Voilà uses the
    ``iri`` formats, so the dashboard's process marks the module as absent and
    ``jsonschema`` simply goes without that check. Meant for the process of
    ``tlanalytics dashboard`` only (it affects the whole process); does
    nothing when the module was already imported.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


def require_voila():
    """Import Voilà, or raise :class:`ConfigurationError` saying what to install."""
    try:
        import voila.app  # noqa: F401
    except Exception as exc:  # a missing or broken install: either way the extra is what fixes it
        raise ConfigurationError(f"{INSTALL_HINT} ({type(exc).__name__} importing voila)") from None


def require_history():
    """Check that snapshot history (``tlanalytics.load_history``) exists, else raise ConfigurationError."""
    import tlanalytics

    try:
        getattr(tlanalytics, "load_history")
    except (AttributeError, ImportError):
        raise ConfigurationError("--store needs snapshot history (tlanalytics.load_history), which this version "
                                 "of tlanalytics does not have yet") from None


def free_port(host="127.0.0.1"):
    """A TCP port that is free on ``host`` now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _check_port(host, port):
    """Raise ConfigurationError when ``host:port`` cannot be listened on (in use, no such address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None


def page_url(host, port, token=None):
    """The URL of the page (with ``?token=`` when a token protects it)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def _voila_config(host, port, token, debug):
    """Voilà's configuration: one notebook, our template, nothing else served, nothing external."""
    return {
        "Voila": {
            "ip": host, "port": port, "port_retries": 0, "open_browser": False, "token": token or None,
            "root_dir": str(TEMPLATES), "log_level": "DEBUG" if debug else "ERROR", "config_file_paths": [],
            "tornado_settings": {
                "headers": {"Content-Security-Policy": _CSP, "Referrer-Policy": "no-referrer",
                            "X-Content-Type-Options": "nosniff"},
                # jupyter_server's default (3 pings) exceeds tornado's limit and makes it warn at every visit
                "ws_ping_timeout": 30_000,
                # Voilà 0.5's page sends no _xsrf with the POST that shuts its kernel down when the page is left;
                # that POST would fail (403) and leave the kernel running for an hour. It names a random
                # kernel id, so another site could not forge it anyway.
                "disable_check_xsrf": True,
            },
        },
        "VoilaConfiguration": {
            "template": "tlanalytics", "strip_sources": True, "show_tracebacks": False,
            # The page is sent at once and the browser loads its scripts while the kernel starts (and warms up,
            # see _dashkernel); the outputs then come over a websocket, cell by cell.
            "file_allowlist": [], "progressive_rendering": True,
        },
        # A page closed without saying goodbye leaves its kernel; cull those after an idle hour.
        "MappingKernelManager": {"cull_idle_timeout": 3600, "cull_interval": 300},
        # Kernels talk to the server over Unix sockets in a private folder, not TCP ports.
        "KernelManager": {"transport": "ipc"},
    }


def _write_kernel_spec(folder):
    """Write the page kernels' spec under ``folder/kernels``: IPython's, plus :func:`~._dashkernel.warm_up` at start.

    The notebook names this kernel (:data:`KERNEL`); ``folder`` goes on
    ``JUPYTER_PATH`` for the server only. ``exec_lines`` run once the
    kernel is up, while the browser still loads the page's scripts (the
    ``;`` keeps the returned Future from being displayed).
    """
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.exec_lines=__import__('tlanalytics._dashkernel')._dashkernel.warm_up();"],
        "display_name": "tlanalytics dashboard (Python 3)", "language": "python",
        "metadata": {"debugger": False},
    }
    path = Path(folder) / "kernels" / KERNEL / "kernel.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return path


@contextlib.contextmanager
def _environment(**values):
    """Set environment variables for the kernels Voilà starts; restore them afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def serve(cfg=None, *, host="127.0.0.1", port=8866, token=None, on_ready=None, debug=False):
    """Serve the explorer as a web page until interrupted (Ctrl+C or SIGTERM).

    Every visit gets its own kernel (its own data and filters), which runs
    ``templates/dashboard.ipynb``. Exports go to a temporary folder removed
    when the server stops.

    Parameters
    ----------
    cfg : DashboardSettings, optional
        What the page shows; the defaults read the API with the key from the
        environment.
    host : str, default "127.0.0.1"
        Interface to listen on.
    port : int, default 8866
        Port; 0 picks a free one.
    token : str, optional
        When given, the page is served only to URLs carrying ``?token=``
        (a cookie then keeps the visitor in).
    on_ready : callable, optional
        Called with the page URL once the server listens.
    debug : bool, default False
        Voilà's DEBUG log and tracebacks in the page.

    Returns
    -------
    None
        When the server was stopped.

    Raises
    ------
    ConfigurationError
        When Voilà is not installed or the port cannot be listened on.

    Examples
    --------
    >>> serve(DashboardSettings(demo=True), port=0, on_ready=print)  # doctest: +SKIP
    http://127.0.0.1:40123/
    """
    cfg = cfg or DashboardSettings()
    port = free_port(host) if port == 0 else port
    _check_port(host, port)  # before the slow import of Voilà
    require_voila()
    from tornado.ioloop import IOLoop
    from traitlets.config import Config
    from voila.app import Voila

    state = tempfile.mkdtemp(prefix="tlanalytics-dashboard-")
    exports = Path(state) / "exports"
    exports.mkdir()
    _write_kernel_spec(state)
    cfg = dataclasses.replace(cfg, export_dir=cfg.export_dir or str(exports))
    jupyter_path = os.pathsep.join(p for p in (str(TEMPLATES), state, os.environ.get("JUPYTER_PATH")) if p)
    try:
        with _environment(**{ENV_VAR: json.dumps(dataclasses.asdict(cfg)), "JUPYTER_PATH": jupyter_path}):
            app = Voila(config=Config(_voila_config(host, port, token, debug)))
            app.initialize([str(NOTEBOOK)])
            url = page_url(host, port, token)
            if on_ready is not None:
                IOLoop.current().add_callback(on_ready, url)  # runs once the server listens
            log.info("Serving the dashboard at %s", page_url(host, port))
            app.start()  # returns when stopped; Voilà shuts the kernels down
    finally:
        shutil.rmtree(state, ignore_errors=True)


def new_token():
    """A random token for the page URL."""
    return secrets.token_urlsafe(24)
