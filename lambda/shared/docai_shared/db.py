"""Data access for the vector store: PostgreSQL + pgvector, through pg8000 (pure Python).

Connections: Lambdas log in with an IAM authentication token as a database role (``docai_writer``,
``docai_reader_<tier>``, or ``docai_migrator`` for the schema), never as the master user, over TLS
verified against the RDS CA bundle. Every connect is bounded and a database that does not accept in time
(an auto-paused Aurora Serverless v2 instance resuming) raises ``DatabaseResuming`` (see "connections").

Writes are idempotent and ordered by the S3 event ``sequencer``: a version older than the stored one
is rejected (``StaleVersion``), the same version again is a no-op, a newer one replaces the previous
version's chunks in one transaction. Deletes leave a tombstone, so an older version arriving after
the delete is rejected too.

Versions in flight (a run between its upload event and its Store) are modelled by a row per version in
``document_versions``: a tag change or a permanent delete of a version that is not stored yet is
written there with its sequencer, and the Store of that version reads it under the same lock and
applies it (the newest tier, or no store at all). Race-free under concurrent executions because every
writer of a version locks its ``document_versions`` row (inserted if absent; ON CONFLICT waits for a
concurrent insert) and then the ``documents`` row, always in that order, inside one transaction:
whichever of Store and Retier/Delete commits second sees what the first committed, so a tag change or
delete is either applied to the stored version or picked up by its Store, never lost between them.

SQL safety: values always travel as parameters; the only identifiers in SQL are fixed names from this
module (filter columns, role names), never text from input.
"""
from __future__ import annotations

import json
import os
import ssl
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Callable, Iterator, Sequence, TypeVar, overload

from docai_shared.contract import ACCESS_TIERS
from docai_shared.errors import DatabaseResuming, InvalidMetadata, StaleVersion

_C = TypeVar("_C")

WRITER_ROLE = "docai_writer"
READER_ROLES = tuple(f"docai_reader_{t}" for t in ACCESS_TIERS)
ROLES = (WRITER_ROLE, *READER_ROLES)
RDS_CA_BUNDLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rds-global-bundle.pem")

# Filter name -> (column, SQL operator). The only way a filter reaches SQL.
_FILTERS = {
    "document_type": ("document_type", "="),
    "business_unit": ("business_unit", "="),
    "date_from": ("document_date", ">="),
    "date_to": ("document_date", "<="),
}


# --- connections -------------------------------------------------------------------------------

# A paused database (Aurora Serverless v2 at 0 ACU), as AWS documents it
# (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html):
# - "When you connect to a paused Aurora Serverless v2 instance, it automatically resumes and accepts the
#   connection"; "Any requested connections are established after the DB instance finishes resuming". So
#   the first connect is neither refused nor answered at once: it blocks until the instance has resumed.
# - "the typical time to resume might be approximately 15 seconds, we recommend that you adjust any client
#   timeout settings to be longer than 15 seconds"; paused more than 24 hours, a deeper sleep: "30 seconds or
#   longer" ("setting connection timeouts to 30 seconds or more").
# - A client with a shorter timeout sees a timeout; "An error that happens immediately after resuming might
#   be a timeout, or some error related to database limits" (many connections at once): "retry the
#   connection". Any attempt, even one that fails, wakes the instance.
# - The Data API answers DatabaseResumingException instead: "The Data API request automatically resumes the
#   DB instance. Wait a few seconds and try again."
#   (https://docs.aws.amazon.com/botocore/latest/reference/services/rds-data/client/exceptions/DatabaseResumingException.html)
# Every connect here is bounded; a connect that fails for a transient reason raises DatabaseResuming.
RESUME_TYPICAL_S = 15
RESUME_AFTER_A_DAY_S = 30
# One attempt: longer than a typical resume (AWS's advice), short enough for the 30-second pipeline functions.
CONNECT_TIMEOUT_S = 20.0
# pg8000 has one socket timeout; once connected, statements get this one (as before).
STATEMENT_TIMEOUT_S = 30.0
MIGRATOR_ROLE = "docai_migrator"
LOGIN_ROLES = (*ROLES, MIGRATOR_ROLE)
# Aurora "won't pause an instance if there are any user-initiated connections open" (same page), and a
# Lambda execution environment keeps its cached connection open while it is frozen between invocations.
# So every session asks the server to close it after this long idle (idle_session_timeout, a startup
# parameter: https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-IDLE-SESSION-TIMEOUT),
# and a cached connection idle for REUSE_IDLE_S is replaced before use rather than found closed.
IDLE_SESSION_TIMEOUT_S = 60
REUSE_IDLE_S = 45


def rds_ssl_context(ca_bundle: str = RDS_CA_BUNDLE) -> ssl.SSLContext:
    """TLS with certificate and host-name verification against the RDS CA bundle (fetched at bundle time)."""
    if not os.path.exists(ca_bundle):
        raise RuntimeError(f"RDS CA bundle missing at {ca_bundle}: the Lambda bundle must include it (see lib/common/python-function.ts)")
    return ssl.create_default_context(cafile=ca_bundle)


def _tls(mode: str) -> ssl.SSLContext | None:
    if mode == "verify-full":
        return rds_ssl_context()
    if mode == "disable":  # local tests against PGlite only
        return None
    raise ValueError(f"DB_TLS must be verify-full or disable, received {mode!r}")


def _retry_after(waited_s: float) -> int:
    """Seconds until a database that started resuming ``waited_s`` ago typically accepts connections."""
    return max(5, int(RESUME_TYPICAL_S - waited_s + 0.999))


def connect_with_password(host: str, port: int, user: str, password: str, database: str, tls: str = "verify-full",
                          connect_timeout: float | None = None, ssl_context: ssl.SSLContext | None = None) -> Any:
    """One connection attempt, at most ``connect_timeout`` seconds. Raises DatabaseResuming when it fails
    for a transient reason (timeout, refused, reset, too many connections, starting up)."""
    import time

    import pg8000.native

    started = time.monotonic()
    try:
        conn = pg8000.native.Connection(user=user, host=host, port=port, database=database, password=password,
                                        ssl_context=ssl_context if ssl_context is not None else _tls(tls),
                                        timeout=CONNECT_TIMEOUT_S if connect_timeout is None else connect_timeout,
                                        startup_params={"idle_session_timeout": str(IDLE_SESSION_TIMEOUT_S * 1000)})
    except Exception as e:
        if is_transient(e):
            waited = time.monotonic() - started
            raise DatabaseResuming(f"the database at {host}:{port} did not accept a connection within {waited:.1f} s: {type(e).__name__}: {e}"
                                   " (an auto-paused database resumes on this attempt)", _retry_after(waited)) from e
        raise
    conn._usock.settimeout(STATEMENT_TIMEOUT_S)
    return conn


class CachedConnection:
    """A connection kept between invocations of one execution environment while it is fresh: one idle for
    more than REUSE_IDLE_S (the server closes it at IDLE_SESSION_TIMEOUT_S) is closed and a new one made."""

    def __init__(self, clock: Callable[[], float] | None = None):
        import time

        self.conn: Any = None
        self.used_at = 0.0
        self._clock = clock or time.monotonic

    def get(self, connect: Callable[[], Any]) -> Any:
        now = self._clock()
        if self.conn is not None and now - self.used_at > REUSE_IDLE_S:
            self.drop()
        if self.conn is None:
            self.conn = connect()
        self.used_at = now
        return self.conn

    def drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already gone
                pass


def connect_waiting(connect: Callable[[float], _C], wait_s: float, clock: Callable[[], float] | None = None,
                    sleep: Callable[[float], None] | None = None) -> _C:
    """Calls ``connect(attempt_timeout)`` until it succeeds or ``wait_s`` seconds have passed, each attempt
    bounded by what remains (at most CONNECT_TIMEOUT_S); a quick failure (refused, too many connections)
    is tried again after a short pause. Raises the last DatabaseResuming, its Retry-After counted from
    the first attempt, when the database did not accept in time. Other errors are raised at once."""
    import time

    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    started = clock()
    attempts, pause = 0, 0.5
    while True:
        remaining = wait_s - (clock() - started)
        attempts += 1
        try:
            return connect(max(1.0, min(CONNECT_TIMEOUT_S, remaining)))
        except DatabaseResuming as e:
            waited = clock() - started
            if wait_s - waited < 1.0:
                raise DatabaseResuming(f"{e} [{attempts} attempt(s) in {waited:.1f} s]", _retry_after(waited)) from e.__cause__
            sleep(min(pause, wait_s - waited - 1.0))
            pause = min(pause * 2, 2.0)


def connect_iam(host: str, port: int, user: str, database: str, region: str, rds_client: Any = None, tls: str = "verify-full",
                wait_s: float | None = None) -> Any:
    """Connects with a 15-minute IAM authentication token instead of a password, waiting at most
    ``wait_s`` seconds (default CONNECT_TIMEOUT_S) for a database that is resuming (DatabaseResuming after that)."""
    if rds_client is None:
        import boto3

        rds_client = boto3.client("rds", region_name=region)
    token = rds_client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region)
    return connect_waiting(lambda timeout: connect_with_password(host, port, user, token, database, tls, connect_timeout=timeout),
                           CONNECT_TIMEOUT_S if wait_s is None else wait_s)


def connect_from_env_as(user: str, wait_s: float | None = None) -> Any:
    """IAM connection as ``user`` (one of this project's login roles) to DB_HOST/DB_PORT/DB_NAME."""
    if user not in LOGIN_ROLES:
        raise ValueError(f"unknown database user {user!r}; expected one of {', '.join(LOGIN_ROLES)}")
    env = os.environ
    tls = env.get("DB_TLS", "verify-full")
    return connect_iam(env["DB_HOST"], int(env["DB_PORT"]), user, env["DB_NAME"], env["AWS_REGION"], tls=tls, wait_s=wait_s)


def connect_from_env(user_env: str = "DB_USER", wait_s: float | None = None) -> Any:
    """IAM connection from DB_HOST, DB_PORT, DB_NAME, DB_USER, AWS_REGION (DB_TLS=disable for local tests)."""
    env = os.environ
    tls = env.get("DB_TLS", "verify-full")
    if env.get("DB_PASSWORD") is not None and tls == "disable":  # local tests: no IAM in PGlite
        return connect_waiting(lambda timeout: connect_with_password(env["DB_HOST"], int(env["DB_PORT"]), env[user_env], env["DB_PASSWORD"], env["DB_NAME"], tls,
                                                                     connect_timeout=timeout), CONNECT_TIMEOUT_S if wait_s is None else wait_s)
    return connect_iam(env["DB_HOST"], int(env["DB_PORT"]), env[user_env], env["DB_NAME"], env["AWS_REGION"], tls=tls, wait_s=wait_s)


def data_api_resuming(e: BaseException) -> bool:
    """A Data API (rds-data) call refused because the instance was paused: it is resuming now."""
    response = getattr(e, "response", None)
    return isinstance(response, dict) and (response.get("Error") or {}).get("Code") == "DatabaseResumingException"


# SQLSTATEs after which the same transaction, retried, can succeed: serialization failure, deadlock,
# lock not available, statement timeout / cancel, too many connections, server shutting down or
# starting, and every connection exception (class 08).
# https://www.postgresql.org/docs/current/errcodes-appendix.html
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014", "53300", "57P01", "57P02", "57P03"})


def is_transient(e: BaseException) -> bool:
    """True when ``e`` is a database error that retrying on a new connection may cure: the driver lost
    the connection (pg8000 InterfaceError: network error, connection closed, timeout), a socket error
    pg8000 lets through unwrapped (its TLS negotiation: a timeout while a paused database holds the
    connection), or the server answered with a transient SQLSTATE. A certificate that does not verify is
    not transient."""
    import pg8000.exceptions as pe

    if isinstance(e, pe.InterfaceError):
        return True
    if isinstance(e, OSError):
        return not isinstance(e, ssl.SSLCertVerificationError)
    if isinstance(e, pe.DatabaseError):
        fields = e.args[0] if e.args and isinstance(e.args[0], dict) else {}
        code = str(fields.get("C", ""))
        return code in TRANSIENT_SQLSTATES or code.startswith("08")
    return False


@overload
def storable(text: str) -> str: ...
@overload
def storable(text: None) -> None: ...
def storable(text: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL (0x00): it is written as the four characters \\x00, so a key or
    error that holds one can still be recorded (S3 keys may hold it; such a document is refused)."""
    return None if text is None else text.replace("\x00", "\\x00")


class _Tx:
    """BEGIN ... COMMIT, ROLLBACK on error; optionally SET LOCAL ROLE to one of this project's roles."""

    def __init__(self, conn: Any, role: str | None):
        if role is not None and role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        self.conn, self.role = conn, role

    def __enter__(self) -> Any:
        self.conn.run("BEGIN")
        if self.role:
            self.conn.run(f'SET LOCAL ROLE "{self.role}"')  # role name from the fixed list above
        return self.conn

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None:
            self.conn.run("COMMIT")
            return
        try:
            self.conn.run("ROLLBACK")
        except Exception:  # the connection is gone (the server rolled back): the original error says why
            pass


def transaction(conn: Any, role: str | None = None) -> _Tx:
    return _Tx(conn, role)


# --- model -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DocumentVersion:
    bucket: str
    key: str
    version_id: str | None
    sequencer: str
    access_tier: str
    content_hash: str | None = None
    document_type: str | None = None
    document_date: date | None = None
    business_unit: str | None = None


@dataclass(frozen=True)
class ChunkRecord:
    index: int
    text: str
    token_count: int
    embedding: Sequence[float]
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SearchHit:
    document_id: int
    chunk_index: int
    key: str
    text: str
    access_tier: str
    distance: float
    metadata: dict
    version_id: str | None = None


def compare_sequencers(a: str, b: str) -> int:
    """S3 sequencers are hex strings; compare after right-padding the shorter with zeros (AWS guidance)."""
    n = max(len(a), len(b))
    x, y = int(a.ljust(n, "0"), 16), int(b.ljust(n, "0"), 16)
    return (x > y) - (x < y)


def vector_literal(v: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


# --- writes ------------------------------------------------------------------------------------

def _lock_row(conn: Any, bucket: str, key: str) -> list | None:
    rows = conn.run(
        "SELECT id, sequencer, version_id, content_hash, status FROM documents WHERE bucket = :b AND key = :k FOR UPDATE",
        b=bucket, k=key,
    )
    return rows[0] if rows else None


def _version(version_id: str | None) -> str:
    return version_id if version_id is not None else "null"  # S3's own name for an unversioned object's version


def _lock_version(conn: Any, bucket: str, key: str, version_id: str | None) -> tuple:
    """Locks the row of one version (inserted when absent: ON CONFLICT waits for a concurrent insert to
    commit, then SELECT ... FOR UPDATE waits for its lock). Every writer takes this lock before the
    document row's. Returns (access_tier, tags_sequencer, tier_error, deleted_sequencer)."""
    v = _version(version_id)
    conn.run("INSERT INTO document_versions (bucket, key, version_id) VALUES (:b, :k, :v) ON CONFLICT DO NOTHING", b=bucket, k=key, v=v)
    rows = conn.run("SELECT access_tier, tags_sequencer, tier_error, deleted_sequencer FROM document_versions WHERE bucket = :b AND key = :k AND version_id = :v FOR UPDATE",
                    b=bucket, k=key, v=v)
    return tuple(rows[0])


def _newer(a: str | None, b: str | None) -> bool:
    """a is a sequencer later than b (anything is later than nothing)."""
    return a is not None and (b is None or compare_sequencers(a, b) > 0)


def _claim_row(conn: Any, bucket: str, key: str, insert_sql: str, **params: Any) -> tuple[Any, list | None]:
    """Inserts the first row of (bucket, key) and returns its id; or, when a concurrent writer
    inserted it between our SELECT ... FOR UPDATE (which locks nothing when no row exists) and this
    INSERT, returns that row, locked: ON CONFLICT waits for the other writer's commit, so the caller
    then compares sequencers as for any existing row instead of failing on the unique constraint."""
    rows = conn.run(insert_sql + " ON CONFLICT (bucket, key) DO NOTHING RETURNING id", **params)
    if rows:
        return rows[0][0], None
    return None, _lock_row(conn, bucket, key)


def upsert_document(conn: Any, doc: DocumentVersion, chunks: Sequence[ChunkRecord], role: str | None = None, force: bool = False,
                    embedding_model: str | None = None) -> str:
    """Stores a document version and its chunks in one transaction, replacing the previous version's.
    ``embedding_model`` names the model that embedded the chunks (search compares only those).

    Returns "stored", or "unchanged" when this very version is already stored (a duplicate run).
    ``force`` re-stores the same version anyway (re-embedding after a model change).
    Raises StaleVersion when a newer version (or a newer delete, or a permanent delete of this very
    version) is already recorded; InvalidMetadata when a tag change after this run's start named an
    invalid tier.

    The tier: a tag change of this version recorded after the run's event (its sequencer is later) was
    read after this run's Extract may have read the tags, so it wins over ``doc.access_tier``; an
    earlier one was already visible to Extract.
    """
    if doc.access_tier not in ACCESS_TIERS:
        raise ValueError(f"access_tier {doc.access_tier!r} is not one of {ACCESS_TIERS}")
    doc = replace(doc, key=storable(doc.key))
    with transaction(conn, role):
        v_tier, v_tags_seq, v_error, v_deleted = _lock_version(conn, doc.bucket, doc.key, doc.version_id)
        if v_deleted is not None and compare_sequencers(doc.sequencer, v_deleted) < 0:
            raise StaleVersion(f"s3://{doc.bucket}/{doc.key}: version {doc.version_id} was deleted for good (sequencer {v_deleted}): not stored")
        if _newer(v_tags_seq, doc.sequencer):
            if v_error is not None:
                raise InvalidMetadata(f"a tag change of this version (sequencer {v_tags_seq}) is invalid: {v_error}")
            doc = replace(doc, access_tier=v_tier)
        row = _lock_row(conn, doc.bucket, doc.key)
        doc_id = None
        if row is None:
            doc_id, row = _claim_row(
                conn, doc.bucket, doc.key,
                "INSERT INTO documents (bucket, key, version_id, sequencer, content_hash, document_type, document_date, access_tier,"
                " business_unit, status, chunk_count) VALUES (:b, :k, :v, :s, :h, :t, :d, :a, :u, 'stored', :n)",
                b=doc.bucket, k=doc.key, v=doc.version_id, s=doc.sequencer, h=doc.content_hash, t=doc.document_type,
                d=doc.document_date, a=doc.access_tier, u=doc.business_unit, n=len(chunks),
            )
        if row is not None:
            doc_id, seq, version_id, content_hash, status = row
            order = compare_sequencers(doc.sequencer, seq)
            if order < 0:
                raise StaleVersion(f"s3://{doc.bucket}/{doc.key}: sequencer {doc.sequencer} is older than the recorded {seq} ({status})")
            if order == 0 and not force and status == "stored" and version_id == doc.version_id and content_hash == doc.content_hash:
                return "unchanged"
            conn.run(
                "UPDATE documents SET version_id = :v, sequencer = :s, content_hash = :h, document_type = :t, document_date = :d,"
                " access_tier = :a, business_unit = :u, status = 'stored', error = NULL, chunk_count = :n, updated_at = now() WHERE id = :id",
                v=doc.version_id, s=doc.sequencer, h=doc.content_hash, t=doc.document_type, d=doc.document_date,
                a=doc.access_tier, u=doc.business_unit, n=len(chunks), id=doc_id,
            )
            conn.run("DELETE FROM chunks WHERE document_id = :id", id=doc_id)
        if chunks:
            # One statement for all chunks (arrays unnested server-side): one round trip per document.
            conn.run(
                "INSERT INTO chunks (document_id, chunk_index, text, token_count, embedding, access_tier, document_type, document_date,"
                " business_unit, metadata, embedding_model) SELECT :id, u.i, u.x, u.n, cast(u.e as vector), :a, :t, :d, :u, cast(u.m as jsonb), :model"
                " FROM unnest(cast(:idx as integer[]), cast(:texts as text[]), cast(:tokens as integer[]), cast(:embs as text[]), cast(:metas as text[]))"
                " AS u(i, x, n, e, m)",
                id=doc_id, a=doc.access_tier, t=doc.document_type, d=doc.document_date, u=doc.business_unit, model=embedding_model,
                idx=[c.index for c in chunks], texts=[c.text for c in chunks], tokens=[c.token_count for c in chunks],
                embs=[vector_literal(c.embedding) for c in chunks], metas=[json.dumps(c.metadata) for c in chunks],
            )
        return "stored"


def record_failure(conn: Any, bucket: str, key: str, version_id: str | None, sequencer: str, error: str, status: str = "failed", role: str | None = None,
                   transient: bool = False) -> str:
    """Marks the document failed (or in review) with the error, and removes the previous version's
    chunks: they no longer describe the object and must not be served (its tier may have changed).

    A failed run of the version that is already stored (a re-embed after a model change, a replay)
    keeps that version's chunks and status: they still describe the object exactly, and the new ones
    never arrived. Only the error is recorded ("kept"). So does a run that failed ``transient``ly (the
    database or endpoint stayed unavailable through every retry): nothing stored is removed until a
    replacement is committed; replaying the event stores it.

    Returns "recorded", "kept", or "superseded" when a newer version is already recorded, or this
    version was deleted for good (nothing changes).
    """
    if status not in ("failed", "review"):
        raise ValueError(f"status must be failed or review, received {status!r}")
    key, error = storable(key), storable(error)
    with transaction(conn, role):
        deleted = _lock_version(conn, bucket, key, version_id)[3]
        if deleted is not None and compare_sequencers(sequencer, deleted) < 0:
            return "superseded"
        row = _lock_row(conn, bucket, key)
        if row is None:
            # Unknown tier: the most restrictive one, until a good version says otherwise.
            _, row = _claim_row(
                conn, bucket, key,
                "INSERT INTO documents (bucket, key, version_id, sequencer, access_tier, status, error) VALUES (:b, :k, :v, :s, 'restricted', :st, :e)",
                b=bucket, k=key, v=version_id, s=sequencer, st=status, e=error[:4000],
            )
            if row is None:
                return "recorded"
        doc_id, seq, stored_version, stored_status = row[0], row[1], row[2], row[4]
        order = compare_sequencers(sequencer, seq)
        if order < 0:
            return "superseded"
        if order == 0 and stored_status == "stored" and stored_version == version_id:
            conn.run("UPDATE documents SET error = :e, updated_at = now() WHERE id = :id", e=f"last re-run failed, stored chunks kept: {error}"[:4000], id=doc_id)
            return "kept"
        if transient and stored_status == "stored":
            conn.run("UPDATE documents SET error = :e, updated_at = now() WHERE id = :id",
                     e=f"version {version_id} (sequencer {sequencer}) not stored yet, version {stored_version} kept: {error}"[:4000], id=doc_id)
            return "kept"
        conn.run(
            "UPDATE documents SET version_id = :v, sequencer = :s, status = :st, error = :e, chunk_count = 0, updated_at = now() WHERE id = :id",
            v=version_id, s=sequencer, st=status, e=error[:4000], id=doc_id,
        )
        conn.run("DELETE FROM chunks WHERE document_id = :id", id=doc_id)
        return "recorded"


def delete_document(conn: Any, bucket: str, key: str, sequencer: str, only_version: str | None = None, role: str | None = None) -> str:
    """Removes a document's chunks and leaves a tombstone row (status deleted) carrying the delete's
    sequencer, so an older version arriving late is rejected.

    ``only_version``: the event deleted one specific version for good. That version's own tombstone is
    recorded in any case, so a run of it still in flight never stores it; if it is not the stored one,
    the document row does not change ("other-version"). Returns "deleted", "stale" (a newer version is
    stored), or "other-version".
    """
    key = storable(key)
    with transaction(conn, role):
        if only_version is not None:
            deleted = _lock_version(conn, bucket, key, only_version)[3]
            if _newer(sequencer, deleted):
                conn.run("UPDATE document_versions SET deleted_sequencer = :s, updated_at = now() WHERE bucket = :b AND key = :k AND version_id = :v",
                         s=sequencer, b=bucket, k=key, v=_version(only_version))
        row = _lock_row(conn, bucket, key)
        if row is None:
            _, row = _claim_row(
                conn, bucket, key,
                "INSERT INTO documents (bucket, key, version_id, sequencer, access_tier, status) VALUES (:b, :k, NULL, :s, 'restricted', 'deleted')",
                b=bucket, k=key, s=sequencer,
            )
            if row is None:
                return "deleted"
        doc_id, seq, version_id = row[0], row[1], row[2]
        if only_version is not None and only_version != version_id:
            return "other-version"
        if compare_sequencers(sequencer, seq) < 0:
            return "stale"
        conn.run("DELETE FROM chunks WHERE document_id = :id", id=doc_id)
        conn.run(
            "UPDATE documents SET status = 'deleted', sequencer = :s, error = NULL, chunk_count = 0, updated_at = now() WHERE id = :id",
            s=sequencer, id=doc_id,
        )
        return "deleted"


TAG_FAILURE = "tag change failed"


class Rerun(str):
    """retier_document's "rerun", with the sequencer of the failed run it re-runs, read under the lock:
    read after the commit, it may already be a newer version's, and the rerun would replace that one."""

    sequencer: str

    def __new__(cls, sequencer: str) -> "Rerun":
        self = super().__new__(cls, "rerun")
        self.sequencer = sequencer
        return self


def retier_document(conn: Any, bucket: str, key: str, version_id: str | None, sequencer: str, access_tier: str | None, role: str | None = None,
                    error: str | None = None) -> str:
    """Applies a tag change of one version (``access_tier``, or ``error`` when its tags name no valid
    tier), ordered by the tag change's sequencer among the tag changes of that version.

    Returns:
    - "retiered" / "unchanged": the version is stored; its and every chunk's tier set in one
      transaction, without re-embedding;
    - "failed": ``error`` for the stored version: it is marked failed and its chunks removed (fail
      closed: no tier is known to be right); the row keeps the version and its sequencer;
    - "rerun": the version is the document's, failed because of its metadata, and the tags are now
      valid: the caller runs the pipeline again for it, with the failed run's sequencer (``Rerun.sequencer``);
    - "pending": the version is not stored (its run is in flight, or it is not the current version):
      recorded, and the Store of that version applies it;
    - "stale": an equal or newer tag change of this version is recorded already;
    - "deleted": the version was deleted for good.
    Never touches another version's row or chunks.
    """
    if (access_tier is None) == (error is None):
        raise ValueError("give exactly one of access_tier and error")
    if access_tier is not None and access_tier not in ACCESS_TIERS:
        raise ValueError(f"access_tier {access_tier!r} is not one of {ACCESS_TIERS}")
    key, error = storable(key), storable(error)
    with transaction(conn, role):
        _, v_tags_seq, v_error, v_deleted = _lock_version(conn, bucket, key, version_id)
        # Ordered like the Store: the 'null' version is written anew after its permanent delete
        # (versioning suspended), and a tag change of that new object must still re-tier it.
        if v_deleted is not None and compare_sequencers(sequencer, v_deleted) < 0:
            return "deleted"
        rows = conn.run("SELECT id, version_id, status, access_tier, sequencer, error FROM documents WHERE bucket = :b AND key = :k FOR UPDATE", b=bucket, k=key)
        current = bool(rows) and rows[0][1] == version_id
        # Only this version's tag changes order it. documents.tags_sequencer (migration 0005) is not
        # consulted: it may be another version's (no Store ever reset it), which made a newer version's
        # own tag change "stale"; a tag change older than a pre-0007 one re-applies the tags as S3 has
        # them now (the handler reads them), which is right.
        previous = v_tags_seq
        # The same tag change again (its replay after a run that failed transiently and failed the version
        # closed, or a retry after a commit whose answer was lost) is applied again: it is idempotent, and
        # only so does the replay bring the version back. Its failure never undoes it once applied.
        order = 1 if previous is None else compare_sequencers(sequencer, previous)
        if order < 0 or (order == 0 and error is not None):
            return "stale"
        conn.run("UPDATE document_versions SET access_tier = :a, tags_sequencer = :s, tier_error = :e, updated_at = now() WHERE bucket = :b AND key = :k AND version_id = :v",
                 a=access_tier, s=sequencer, e=error[:4000] if error else None, b=bucket, k=key, v=_version(version_id))
        if not current:
            return "pending"
        doc_id, _, status, tier, doc_seq, doc_error = rows[0]
        if error is not None:
            if status not in ("stored", "failed", "review"):
                return "pending"
            conn.run("UPDATE documents SET status = 'failed', error = :e, chunk_count = 0, updated_at = now() WHERE id = :id", e=f"{TAG_FAILURE}: {error}"[:4000], id=doc_id)
            conn.run("DELETE FROM chunks WHERE document_id = :id", id=doc_id)
            return "failed"
        if status == "failed" and doc_error and (doc_error.startswith(TAG_FAILURE) or doc_error.startswith("InvalidMetadata")):
            return Rerun(doc_seq)
        if status != "stored":
            return "pending"
        conn.run("UPDATE documents SET access_tier = :a, updated_at = now() WHERE id = :id", a=access_tier, id=doc_id)
        if tier == access_tier:
            return "unchanged"
        conn.run("UPDATE chunks SET access_tier = :a WHERE document_id = :id", a=access_tier, id=doc_id)
        return "retiered"


def label_unrecorded_models(conn: Any, embedding_model: str) -> int:
    """Names the model of chunks stored before models were recorded (migration 0006): the stage's
    model at the time the migration is applied. Returns the rows labelled."""
    return len(conn.run("UPDATE chunks SET embedding_model = :m WHERE embedding_model IS NULL RETURNING 1", m=embedding_model))


def purge_document(conn: Any, bucket: str, key: str, role: str | None = None) -> int:
    """Deletes the document row itself; its chunks go with it (ON DELETE CASCADE). Returns rows deleted."""
    with transaction(conn, role):
        return len(conn.run("DELETE FROM documents WHERE bucket = :b AND key = :k RETURNING id", b=bucket, k=key))


def document_status(conn: Any, bucket: str, key: str) -> dict | None:
    key = storable(key)
    rows = conn.run(
        "SELECT status, version_id, sequencer, error, chunk_count, access_tier FROM documents WHERE bucket = :b AND key = :k", b=bucket, k=key
    )
    if not rows:
        return None
    status, version_id, seq, error, n, tier = rows[0]
    return {"status": status, "version_id": version_id, "sequencer": seq, "error": error, "chunk_count": n, "access_tier": tier}


# --- reads -------------------------------------------------------------------------------------

def _search_sql(filters: dict, embedding_model: str | None = None) -> tuple[str, dict]:
    where, params = [], {}
    if embedding_model is not None:
        where.append("c.embedding_model = :embedding_model")
        params["embedding_model"] = embedding_model
    for name, value in filters.items():
        if value is None:
            continue
        if name not in _FILTERS:
            raise ValueError(f"unknown filter {name!r}; known: {', '.join(_FILTERS)}")
        column, op = _FILTERS[name]
        where.append(f"c.{column} {op} :{name}")
        params[name] = value
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    # Inner query: the shape the HNSW index serves (ORDER BY distance LIMIT k on one table);
    # with iterative scans, filters (and row-level security) still yield k rows when k exist.
    # Outer query: relaxed_order may return near-ordered rows, so sort again.
    sql = (
        "SELECT h.document_id, h.chunk_index, d.key, h.text, h.access_tier, h.distance, h.metadata, d.version_id FROM ("
        " SELECT c.document_id, c.chunk_index, c.text, c.access_tier, c.metadata, c.embedding <=> cast(:q as vector) AS distance"
        f" FROM chunks c {clause} ORDER BY c.embedding <=> cast(:q as vector) LIMIT :k"
        ") h JOIN documents d ON d.id = h.document_id ORDER BY h.distance"
    )
    return sql, params


def search(conn: Any, embedding: Sequence[float], k: int = 10, role: str | None = None, ef_search: int = 100, embedding_model: str | None = None,
           **filters: Any) -> list[SearchHit]:
    """Top-k chunks by cosine distance, filtered by metadata; the access tier is enforced by the
    database (row-level security on the reader role), not by this query. ``embedding_model``: only
    chunks that model embedded (the model of the question's vector)."""
    if not (1 <= int(k) <= 1000):
        raise ValueError(f"k must be from 1 to 1000, received {k}")
    if not (1 <= int(ef_search) <= 1000):
        raise ValueError(f"ef_search must be from 1 to 1000, received {ef_search}")
    sql, params = _search_sql(filters, embedding_model)
    with transaction(conn, role):
        conn.run("SET LOCAL hnsw.iterative_scan = relaxed_order")
        conn.run(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
        rows = conn.run(sql, q=vector_literal(embedding), k=int(k), **params)
    return [SearchHit(r[0], r[1], r[2], r[3], r[4], float(r[5]), r[6] if isinstance(r[6], dict) else json.loads(r[6]), r[7]) for r in rows]


def explain_search(conn: Any, embedding: Sequence[float], k: int = 10, role: str | None = None, **filters: Any) -> str:
    sql, params = _search_sql(filters)
    with transaction(conn, role):
        conn.run("SET LOCAL hnsw.iterative_scan = relaxed_order")
        rows = conn.run("EXPLAIN " + sql, q=vector_literal(embedding), k=int(k), **params)
    return "\n".join(r[0] for r in rows)


def iter_documents(conn: Any, status: str = "stored") -> Iterator[tuple[str, str, str | None]]:
    for bucket, key, version_id in conn.run("SELECT bucket, key, version_id FROM documents WHERE status = :s ORDER BY id", s=status):
        yield bucket, key, version_id
