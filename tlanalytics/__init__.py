"""tlanalytics: analyse TwelveLabs multipart upload sessions with pandas.

Public names are importable from the top level; modules load on first use,
so ``import tlanalytics`` stays fast and does not import matplotlib or
ipywidgets until a plot or widget is asked for.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "errors": [
        "TLAnalyticsError", "ConfigurationError", "InvalidArgumentError", "InsecureTransportError",
        "APIError", "AuthenticationError", "BadRequestError", "NotFoundError", "RateLimitError",
        "ServerError", "TransportError", "DeadlineExceededError", "ResponseFormatError", "FileFormatError",
        "TLAnalyticsWarning", "MalformedItemWarning", "InconsistentListingWarning", "FileFormatWarning",
    ],
    "schema": ["COLUMNS", "LISTING_FIELDS", "STALL_AFTER", "RISK_WINDOW", "ATTRS", "columns", "column_table_markdown",
               "attrs_table_markdown"],
    "frame": ["build_frame", "frame_from_pages", "join_progress", "recompute", "empty_frame"],
    "client": ["UploadsClient", "load_uploads", "add_progress", "load_chunks"],
    "simulator": ["Simulator", "generate_uploads"],
    "plots": [
        "STATUS_COLORS", "status_color", "plot_size_distribution", "plot_chunk_configurations",
        "plot_expiry_distribution", "plot_expiry_timeline", "plot_status_breakdown", "plot_progress", "overview",
        "figure_png", "plot_png",
    ],
    "export": ["to_csv", "read_csv", "to_parquet", "read_parquet", "to_jsonl", "write_frame"],
    "metrics": ["summarize", "evaluate_check", "Summary", "CheckResult", "GLOSSARY"],
    "reporting": ["report"],
    "filters": ["filter_uploads"],
    "widgets": ["explore", "Explorer", "MOST_URGENT_FIRST"],
    "history": ["save_snapshot", "load_history", "default_store"],
    "histfiles": ["compact_history"],
    "histengine": ["open_history", "History"],
    "outcomes": ["OUTCOMES", "ANALYSIS_COLUMNS", "open_rows", "session_outcomes", "trends"],
    "completion": ["completion_curve", "time_to_complete"],
    "histplots": ["OUTCOME_COLORS", "plot_trends", "plot_time_to_complete"],
    "histviews": ["TREND_COLUMNS", "format_trends", "trends_figure", "trends_html", "HistoryTab", "history_tab"],
    "_histsim": ["generate_history"],
}

_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE) + ["__version__"]


def __getattr__(name):
    if name == "metrics":  # the module of definitions, as ``tla.metrics.open_mask(df)``
        return importlib.import_module(".metrics", __name__)
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tlanalytics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
