"""Named errors. Step Functions matches on the exception class name (``errorType``): transient errors
are retried with backoff, permanent ones go straight to the failure state."""


class PermanentError(Exception):
    """Retrying will not help: the input is bad. Routed to RecordFailure without retries."""


class TransientError(Exception):
    """Retrying later may help (throttling, 5xx, an endpoint scaling from zero)."""


class UnsupportedDocument(PermanentError):
    """Empty, too large, of an unsupported type, or encrypted."""


class DocumentLimitExceeded(UnsupportedDocument):
    """The document exceeds a resource bound (inflated size, compression ratio, pages, characters,
    nesting depth). The message names the limit and the value; nothing is inflated past the limit."""


class UnreadableDocument(UnsupportedDocument):
    """The parser rejected the bytes (corrupt archive, malformed XML or PDF)."""


class InvalidMetadata(PermanentError):
    """Object metadata or tags hold a value the pipeline does not accept (e.g. an unknown access tier)."""


class NeedsHumanReview(PermanentError):
    """The document cannot be processed automatically (e.g. a PDF without a text layer)."""


class StaleVersion(PermanentError):
    """A newer version of the document is already stored; this one must not overwrite it."""


class MalformedEvent(PermanentError):
    """An event that is not what the function consumes (not an S3 event, fields missing)."""


class EndpointNotReady(TransientError):
    """The inference endpoint has no capacity yet (scaling from zero) or is updating."""


class Throttled(TransientError):
    """An AWS API or the endpoint throttled the call."""


class DatabaseUnavailable(TransientError):
    """The database connection was lost, or the server refused for now (serialization failure,
    deadlock, statement or lock timeout, too many connections, shutting down). The transaction rolled
    back whole; the connection is dropped and the next attempt opens a new one."""


class DatabaseResuming(DatabaseUnavailable):
    """The database did not accept a connection in time: an Aurora Serverless v2 instance that auto-paused
    holds new connections until it has resumed (~15 s, 30 s or more after a day paused), or refuses some
    right after. The attempt itself wakes it, so trying again shortly succeeds. ``retry_after_s``: when.
    Raised by docai_shared.db's connect helpers (also importable as docai_shared.db.DatabaseResuming)."""

    def __init__(self, message: str, retry_after_s: int = 15):
        super().__init__(message)
        self.retry_after_s = retry_after_s


# Error names (as Step Functions sees them) of a run that failed because something was unavailable
# for longer than its retries, not because the document is bad: its failure must not remove what is stored.
TRANSIENT_ERROR_NAMES = ("TransientError", "Throttled", "EndpointNotReady", "DatabaseUnavailable", "DatabaseResuming", "States.Timeout")
