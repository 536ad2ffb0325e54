"""Shared numpydoc fragments, filled into docstrings by a decorator (seaborn's ``_core_docs``).

A docstring line that is only ``{name}`` is replaced by the fragment
``name``, each of its lines indented like the placeholder: Python 3.13 strips
docstrings' common indentation at compile time and earlier versions do not.
"""

from __future__ import annotations

__all__ = ["fill_doc", "HISTORY_DOCS"]

#: Fragments of the history analyses, plots and views.
HISTORY_DOCS = {
    "trends_param": "trends : pandas.DataFrame\n    From :func:`~tlanalytics.trends`.",
    "outcomes_param": "outcomes : pandas.DataFrame\n    From :func:`~tlanalytics.session_outcomes`.",
    "raises_trends": "Raises\n------\ntlanalytics.errors.InvalidArgumentError\n    Not a trend table.",
    "raises_outcomes": "Raises\n------\ntlanalytics.errors.InvalidArgumentError\n    Not an outcomes table.",
    "raises_invalid": "Raises\n------\ntlanalytics.errors.InvalidArgumentError",
    "history_param": ("history : pandas.DataFrame, str, os.PathLike or History\n"
                      "    A history frame (:func:`~tlanalytics.load_history`,\n"
                      "    :func:`~tlanalytics.generate_history`), or a store: a folder or\n"
                      "    :func:`~tlanalytics.open_history` (read per session, never a frame of\n"
                      "    every row; the same figures)."),
    "hist_ax": "ax : matplotlib.axes.Axes, optional\n    Where to draw; the current Axes when None.",
    "returns_ax": "Returns\n-------\nmatplotlib.axes.Axes",
}


def fill_doc(fragments):
    """A decorator replacing the ``{name}`` lines of a docstring by ``fragments[name]``."""
    def decorate(func):
        lines = []
        for line in func.__doc__.split("\n"):
            name = line.strip()[1:-1] if line.strip().startswith("{") and line.strip().endswith("}") else None
            if name in fragments:
                indent = line[: len(line) - len(line.lstrip())]
                lines += [indent + part for part in fragments[name].split("\n")]
            else:
                lines.append(line)
        func.__doc__ = "\n".join(lines)
        return func
    return decorate
