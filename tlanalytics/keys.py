"""The API key: where it is read from, how it is checked, and how it is kept out of text.

Every module that touches the key goes through here: the client reads it,
the transport sends it, and the transport, the explorer and the CLI redact it
from anything they show, so a change to the rules happens in one place.
"""

from __future__ import annotations

import os
from urllib.parse import quote, quote_plus

from .errors import InvalidArgumentError

__all__ = ["KEY_ENV_VARS", "BASE_URL_ENV_VAR", "key_from_env", "env_keys", "check_key", "redact"]

#: Environment variables holding the key, in order of precedence.
KEY_ENV_VARS = ("TWELVELABS_API_KEY", "TWELVE_LABS_API_KEY")
#: Environment variable holding the API root (the official SDK reads it too).
BASE_URL_ENV_VAR = "TWELVELABS_BASE_URL"
#: Strings shorter than this are not redacted: replacing "a" everywhere would garble text, not protect a key.
_MIN_SECRET = 4


def key_from_env():
    """The first non-blank key in :data:`KEY_ENV_VARS`, or None."""
    return next((os.environ[v] for v in KEY_ENV_VARS if os.environ.get(v, "").strip()), None)


def env_keys():
    """Every key set in the environment, stripped (to redact; never to show)."""
    return [v.strip() for v in (os.environ.get(n, "") for n in KEY_ENV_VARS) if len(v.strip()) >= _MIN_SECRET]


def check_key(key):
    """Strip surrounding whitespace; refuse keys that cannot go in a header (never echoing them)."""
    if not isinstance(key, str):
        raise InvalidArgumentError(
            f"The value for `api_key` must be a string, but an object of type {type(key).__name__} was passed.")
    key = key.strip()
    if not key or not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        raise InvalidArgumentError("The value for `api_key` must be a non-empty string of printable ASCII characters "
                                   "without spaces; copy the key again (the value is not shown here).")
    return key


def redact(text, *keys, env=True, mark="***"):
    """``text`` with every key, raw or URL-encoded, replaced by ``mark``.

    Parameters
    ----------
    text : str or None
        The text to clean; None is returned as is.
    *keys : str
        Keys to remove, whatever their length (blank values are ignored).
    env : bool, default True
        Also remove the keys set in the environment (:func:`env_keys`).
    mark : str, default "***"
        What a key is replaced by.

    Returns
    -------
    str or None

    Examples
    --------
    >>> redact("key=abcd1234 and abcd%2F", "abcd1234", env=False)
    'key=*** and abcd%2F'
    """
    if text is None:
        return None
    secrets = [k.strip() for k in keys if isinstance(k, str) and k.strip()]
    if env:
        secrets += env_keys()
    for key in sorted(set(secrets), key=len, reverse=True):
        for form in sorted({key, quote(key, safe=""), quote_plus(key), quote(key)}, key=len, reverse=True):
            text = text.replace(form, mark)
    return text
