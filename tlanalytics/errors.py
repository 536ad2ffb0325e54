"""Exception and warning classes of tlanalytics.

Every error raised on purpose by the package derives from
:class:`TLAnalyticsError`; errors about bad arguments also derive from
:class:`ValueError`, so ``except ValueError`` keeps working for callers who
expect it. Warnings derive from :class:`TLAnalyticsWarning`.

No message built here ever contains the API key: the classes only carry what
the server said (status, error code, message) and what the caller asked for
(page, URL without credentials).
"""

from __future__ import annotations

__all__ = [
    "TLAnalyticsError",
    "ConfigurationError",
    "InvalidArgumentError",
    "InsecureTransportError",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "DeadlineExceededError",
    "ResponseFormatError",
    "FileFormatError",
    "TLAnalyticsWarning",
    "MalformedItemWarning",
    "InconsistentListingWarning",
    "FileFormatWarning",
]


class TLAnalyticsError(Exception):
    """Root of every error tlanalytics raises on purpose."""


class ConfigurationError(TLAnalyticsError):
    """Something the caller must set up is missing (for example the API key)."""


class InvalidArgumentError(TLAnalyticsError, ValueError):
    """An argument has a value the function cannot use."""


class InsecureTransportError(InvalidArgumentError):
    """The key would be sent in clear text to a host that is not loopback."""


class APIError(TLAnalyticsError):
    """The API answered with an error status.

    Parameters
    ----------
    message : str
        What happened and what to do, for people.
    status : int or None
        HTTP status code of the last response (None when no response came).
    code : str or None
        The API's error ``code`` (for example ``"api_key_invalid"``).
    api_message : str or None
        The API's own ``message`` field.
    page : int or None
        The listing page (or None) the request was for.
    url : str or None
        The request URL, without credentials.
    """

    def __init__(self, message, *, status=None, code=None, api_message=None, page=None, url=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.api_message = api_message
        self.page = page
        self.url = url

    def __repr__(self):
        return f"{type(self).__name__}({str(self)!r}, status={self.status!r}, code={self.code!r})"


class AuthenticationError(APIError):
    """The API rejected the key (HTTP 401 or 403)."""


class BadRequestError(APIError, ValueError):
    """The API rejected the request's parameters (HTTP 400)."""


class NotFoundError(APIError):
    """The resource does not exist (HTTP 404), e.g. an upload session that ended."""


class RateLimitError(APIError):
    """HTTP 429 kept coming after every retry was spent."""


class ServerError(APIError):
    """HTTP 5xx kept coming after every retry was spent."""


class TransportError(APIError):
    """No usable response: connection errors or timeouts after every retry."""


class DeadlineExceededError(TransportError):
    """The operation's ``deadline`` passed before it finished; requests still in flight were abandoned."""


class ResponseFormatError(APIError):
    """A response body or item does not have the documented shape.

    ``field`` names the offending field when one is known.
    """

    def __init__(self, message, *, field=None, **kwargs):
        super().__init__(message, **kwargs)
        self.field = field


class FileFormatError(TLAnalyticsError, ValueError):
    """A file given to a reader is not in the format it expects."""


class TLAnalyticsWarning(UserWarning):
    """Root of every warning tlanalytics emits."""


class MalformedItemWarning(TLAnalyticsWarning):
    """Some items broke the documented shape; they were kept with nulls where the value was bad."""


class InconsistentListingWarning(TLAnalyticsWarning):
    """The listing changed while it was paged and could not be read consistently."""


class FileFormatWarning(TLAnalyticsWarning):
    """A file was read with a documented coercion (for example a column added back as nulls)."""
