"""Task handlers of the document pipeline state machine. Thin: the work is in extraction, chunking,
docai_shared.embeddings and docai_shared.db. Large data never travels in Step Functions state
(256 KB limit): each step writes to the work bucket and passes S3 keys.

Every handler takes the state input (a dict) and returns a small dict. Named exceptions
(docai_shared.errors) tell the state machine whether to retry (TransientError and subclasses) or go
to RecordFailure / HumanReview (PermanentError and subclasses).

Configuration (environment): WORK_BUCKET, MAX_DOCUMENT_BYTES, CHUNK_TOKENS, CHUNK_OVERLAP_TOKENS,
EMBED_BATCH_SIZE, DEFAULT_ACCESS_TIER, DEFAULT_BUSINESS_UNIT, ENDPOINT_NAME, INFERENCE_COMPONENT,
EMBEDDING_DIMENSION, EMBED_WINDOW_MINUTES (0 or unset: embed at once), DB_* (see docai_shared.db.connect_from_env), WORKFLOW.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from datetime import date
from typing import Any, Callable, TypeVar

from chunking import chunk_sections, content_hash
from docai_shared import db, vector_metrics
from docai_shared.embeddings import EmbeddingClient, batches
from docai_shared.errors import (
    TRANSIENT_ERROR_NAMES, DatabaseUnavailable, DocumentLimitExceeded, InvalidMetadata, PermanentError, StaleVersion, TransientError, UnsupportedDocument,
)
from docai_shared.gateway.embeddings import MeteredEmbedder
from docai_shared.observability import Logger, Metrics, correlation_id
from extraction import SNIFF_BYTES, Extracted, Section, extract, validate

# --- clients (created once per container; tests replace them) ---------------------------------

_clients: dict[str, Any] = {}


def client(name: str) -> Any:
    if name not in _clients:
        import boto3

        _clients[name] = boto3.client(name)
    return _clients[name]


_db_conn: Any = None
_db_conn_used = 0.0


def db_connection() -> Any:
    """The container's connection, replaced when it idled longer than the server keeps it (docai_shared.db.REUSE_IDLE_S):
    a frozen execution environment must not hold the database awake, and must not find its socket closed."""
    global _db_conn, _db_conn_used
    now = time.monotonic()
    if _db_conn is not None and now - _db_conn_used > db.REUSE_IDLE_S:
        drop_db_connection()
    _db_conn_used = now
    if _db_conn is None:
        try:
            _db_conn = db.connect_from_env()
        except Exception as e:
            if db.is_transient(e):
                raise DatabaseUnavailable(f"connecting: {type(e).__name__}: {e}") from e
            raise
    return _db_conn


def drop_db_connection() -> None:
    """Forgets the container's connection (closing it if it still answers): after a connection error it
    is dead, and keeping it would fail every later invocation in this execution environment."""
    global _db_conn
    conn, _db_conn = _db_conn, None
    if conn is not None:
        try:
            conn.close()
        except Exception:  # already gone
            pass


_T = TypeVar("_T")


def _database_errors(fn: Callable[[], _T]) -> _T:
    """Runs a step; a transient database error (the transaction rolled back whole) drops the connection
    and is raised as DatabaseUnavailable, which the state machine retries with backoff on a new one."""
    try:
        return fn()
    except Exception as e:
        if not db.is_transient(e):
            raise
        drop_db_connection()
        raise DatabaseUnavailable(f"{type(e).__name__}: {e}") from e


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


# --- helpers ----------------------------------------------------------------------------------

def _log(event: dict, step: str) -> Logger:
    run = (event.get("meta") or {}).get("runId") or event.get("runId")
    return Logger("pipeline").bind(correlation_id=correlation_id(event.get("bucket", ""), event.get("key", ""), event.get("versionId")), step=step, run=run)


def _work_key(event: dict, name: str) -> str:
    run_id = (event.get("meta") or {}).get("runId") or event.get("runId") or "run"
    run = re.sub(r"[^A-Za-z0-9_-]", "_", str(run_id))
    return f"runs/{run}/{name}"


def _put_json(key: str, value: Any) -> None:
    client("s3").put_object(Bucket=env("WORK_BUCKET"), Key=key, Body=json.dumps(value).encode("utf-8"), ContentType="application/json")


def _get_json(key: str) -> Any:
    return json.loads(client("s3").get_object(Bucket=env("WORK_BUCKET"), Key=key)["Body"].read())


def _version_args(event: dict) -> dict:
    return {"VersionId": event["versionId"]} if event.get("versionId") else {}


def _object_tags(s3: Any, event: dict) -> dict:
    """The tags of the event's object version (the access tier can come from one)."""
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=event["bucket"], Key=event["key"], **_version_args(event)).get("TagSet", [])}


WORKFLOWS = ("ingest", "backfill", "replay")


def workflow_of(event: dict) -> str:
    """The Workflow dimension of a run's metrics: a re-embedding (backfill) and a replay of a failed
    document are told apart from first ingestion, so their documents and spend are counted apart.
    An Embed item carries no run input, only what the Map's ItemSelector passes: ``workflow``, as
    Chunk computed it."""
    if event.get("workflow") in WORKFLOWS:
        return event["workflow"]
    if event.get("reembed"):
        return "backfill"
    if event.get("replay"):
        return "replay"
    return os.environ.get("WORKFLOW", "ingest")


def _timed(step: str, event: dict, fn: Callable[[Logger, Metrics], dict]) -> dict:
    log, metrics = _log(event, step), Metrics(workflow_of(event))
    start = time.perf_counter()
    try:
        return _database_errors(lambda: fn(log, metrics))
    finally:
        metrics.add("StepLatency", (time.perf_counter() - start) * 1000, "Milliseconds")
        metrics.flush(Step=step)


def _s3_error(e: Exception, what: str) -> Exception:
    code = getattr(e, "response", {}).get("Error", {}).get("Code", "") if hasattr(e, "response") else ""
    if code in ("NoSuchKey", "NoSuchVersion", "404", "NotFound", "AccessDenied", "403", "InvalidObjectState"):
        return PermanentError(f"{what}: {code}")
    return TransientError(f"{what}: {type(e).__name__}: {e}")


# --- steps ------------------------------------------------------------------------------------

def validate_handler(event: dict, context: Any = None) -> dict:
    """Looks at size, content type and the first bytes (a ranged GET): rejects what cannot be processed."""

    def run(log: Logger, metrics: Metrics) -> dict:
        if "\x00" in event["key"]:
            raise UnsupportedDocument(f"the key {db.storable(event['key'])!r} holds a NUL character (0x00), which the database cannot store: rename the object")
        s3 = client("s3")
        try:
            head = s3.head_object(Bucket=event["bucket"], Key=event["key"], **_version_args(event))
            size = int(head["ContentLength"])
            first = s3.get_object(Bucket=event["bucket"], Key=event["key"], Range=f"bytes=0-{SNIFF_BYTES - 1}", **_version_args(event))["Body"].read() if size else b""
        except Exception as e:
            raise _s3_error(e, f"reading s3://{event['bucket']}/{event['key']}") from e
        doc_type = validate(event["key"], size, first, int(env("MAX_DOCUMENT_BYTES")), head.get("ContentType"))
        log.info("validated", docType=doc_type, size=size)
        return {"docType": doc_type, "size": size, "contentType": head.get("ContentType")}

    return _timed("Validate", event, run)


def document_metadata(user_metadata: dict, tags: dict) -> dict:
    """Document type, date, access tier and business unit from S3 object metadata or tags (metadata
    wins); absent values take the configured defaults; an invalid value is an error, never a default."""
    merged = {**{k.lower(): v for k, v in tags.items()}, **{k.lower(): v for k, v in user_metadata.items()}}
    tier = (merged.get("access-tier") or env("DEFAULT_ACCESS_TIER")).strip().lower()
    if tier not in db.ACCESS_TIERS:
        raise InvalidMetadata(f"access-tier {tier!r} is not one of {', '.join(db.ACCESS_TIERS)}")
    raw_date = merged.get("document-date")
    doc_date = None
    if raw_date:
        try:
            doc_date = date.fromisoformat(raw_date.strip()).isoformat()
        except ValueError as e:
            raise InvalidMetadata(f"document-date {raw_date!r} is not an ISO date (YYYY-MM-DD)") from e
    doc_type = merged.get("document-type")
    if doc_type is not None and not re.fullmatch(r"[A-Za-z0-9 _.-]{1,64}", doc_type):
        raise InvalidMetadata(f"document-type {doc_type!r} must be 1-64 letters, digits, spaces, '_', '.', '-'")
    unit = merged.get("business-unit") or os.environ.get("DEFAULT_BUSINESS_UNIT") or None
    return {"accessTier": tier, "documentDate": doc_date, "documentType": doc_type, "businessUnit": unit}


def extract_handler(event: dict, context: Any = None) -> dict:
    def run(log: Logger, metrics: Metrics) -> dict:
        s3 = client("s3")
        try:
            obj = s3.get_object(Bucket=event["bucket"], Key=event["key"], **_version_args(event))
            data = obj["Body"].read()
            tags = _object_tags(s3, event)
        except Exception as e:
            raise _s3_error(e, f"reading s3://{event['bucket']}/{event['key']}") from e
        meta = document_metadata(obj.get("Metadata", {}), tags)
        doc_type = event["validation"]["docType"]
        meta["documentType"] = meta["documentType"] or doc_type
        reviewed = (event.get("decision") or {}).get("reviewedTextKey")
        if reviewed:
            # A person supplied the text (e.g. OCR of a scan) after review: use it instead of extracting.
            # Only the key this run's review task named: another run's text would be stored under this document's tier.
            expected = _work_key(event, "reviewed.json")
            if reviewed != expected:
                raise PermanentError(f"reviewedTextKey {reviewed!r} is not this run's: the review task named {expected!r} in the work bucket")
            source = _get_json(reviewed)
            extracted = Extracted(doc_type, [Section(**s) for s in source["sections"]], pages=source.get("pages"))
        else:
            extracted = extract(doc_type, data, event["key"])
        key = _work_key(event, "extracted.json")
        _put_json(key, {"docType": extracted.doc_type, "pages": extracted.pages, "sections": [s.__dict__ for s in extracted.sections]})
        metrics.add("Pages", extracted.pages or 1)
        log.info("extracted", sections=len(extracted.sections), pages=extracted.pages, chars=len(extracted.text))
        return {"extractedKey": key, "pages": extracted.pages, "contentHash": content_hash(data), "metadata": meta}

    return _timed("Extract", event, run)


def embed_not_before(now: float, window_minutes: int) -> str:
    """When the document's chunks may be embedded, as the ISO 8601 UTC timestamp a Step Functions Wait
    state takes: the start of the next embedding window (windows start every `window_minutes`, counted
    from midnight UTC), so every document of a window reaches the GPU endpoint together and it scales
    out once per window. With no window: now."""
    if window_minutes <= 0:
        at = int(now)
    else:
        width = window_minutes * 60
        at = (int(now) // width + 1) * width
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def chunk_handler(event: dict, context: Any = None) -> dict:
    def run(log: Logger, metrics: Metrics) -> dict:
        source = _get_json(event["extracted"]["extractedKey"])
        sections = [Section(**s) for s in source["sections"]]
        chunks = chunk_sections(sections, int(env("CHUNK_TOKENS")), int(env("CHUNK_OVERLAP_TOKENS")))
        if not chunks:
            raise PermanentError("no chunks: the document has no text")
        batch_size = int(env("EMBED_BATCH_SIZE"))
        max_batches = int(os.environ.get("MAX_EMBED_BATCHES") or 2000)
        if -(-len(chunks) // batch_size) > max_batches:
            # Their keys travel in the execution's state (256 KiB): fail here, recorded, not in Step Functions.
            raise DocumentLimitExceeded(f"the document makes {len(chunks)} chunks, more than {max_batches} embedding batches of {batch_size} "
                                        f"(MAX_EMBED_BATCHES): split the document, or raise pipeline.embedBatchSize")
        keys = []
        for i, batch in enumerate(batches(chunks, int(env("EMBED_BATCH_SIZE")))):
            key = _work_key(event, f"chunks/{i:05d}.json")
            _put_json(key, [{"index": c.index, "text": c.text, "tokens": c.token_count, "metadata": c.metadata} for c in batch])
            keys.append(key)
        metrics.add("Chunks", len(chunks))
        embed_at = embed_not_before(time.time(), int(os.environ.get("EMBED_WINDOW_MINUTES") or 0))
        log.info("chunked", chunks=len(chunks), batches=len(keys), embed_not_before=embed_at)
        return {"batches": keys, "chunkCount": len(chunks), "tokenCount": sum(c.token_count for c in chunks), "embedNotBefore": embed_at, "workflow": workflow_of(event)}

    return _timed("Chunk", event, run)


def embed_handler(event: dict, context: Any = None) -> dict:
    """One Map item: {"batchKey": ...} plus the document identity. Writes the vectors next to the batch."""

    def run(log: Logger, metrics: Metrics) -> dict:
        batch = _get_json(event["batchKey"])
        embedder = MeteredEmbedder(
            EmbeddingClient(client("sagemaker-runtime"), env("ENDPOINT_NAME"), os.environ.get("INFERENCE_COMPONENT") or None, int(env("EMBEDDING_DIMENSION"))),
            workflow_of(event), float(os.environ.get("EMBEDDING_USD_PER_MILLION_TOKENS") or 0),
        )
        tokens = sum(c["tokens"] for c in batch)
        vectors = embedder.embed([c["text"] for c in batch], tokens=tokens)
        out_key = event["batchKey"].replace("/chunks/", "/embeddings/")
        _put_json(out_key, vectors)
        metrics.add("TokensEmbedded", tokens)
        metrics.add("ChunksEmbedded", len(batch))
        log.info("embedded", chunks=len(batch), tokens=tokens)
        return {"embeddingsKey": out_key, "tokens": tokens}

    return _timed("Embed", event, run)


def store_handler(event: dict, context: Any = None) -> dict:
    def run(log: Logger, metrics: Metrics) -> dict:
        meta = event["extracted"]["metadata"]
        records = []
        for batch_key in event["chunked"]["batches"]:
            chunk_rows = _get_json(batch_key)
            vectors = _get_json(batch_key.replace("/chunks/", "/embeddings/"))
            records += [db.ChunkRecord(c["index"], c["text"], c["tokens"], v, c["metadata"]) for c, v in zip(chunk_rows, vectors, strict=True)]
        doc = db.DocumentVersion(
            bucket=event["bucket"], key=event["key"], version_id=event.get("versionId"), sequencer=event["sequencer"],
            access_tier=meta["accessTier"], content_hash=event["extracted"]["contentHash"], document_type=meta.get("documentType"),
            document_date=date.fromisoformat(meta["documentDate"]) if meta.get("documentDate") else None, business_unit=meta.get("businessUnit"),
        )
        conn = db_connection()
        outcome = db.upsert_document(conn, doc, records, force=bool(event.get("reembed")), embedding_model=os.environ.get("EMBEDDING_MODEL") or None)
        metrics.add("DocumentsProcessed", 1)
        log.info("stored", outcome=outcome, chunks=len(records))
        _measure_vector_store(conn, log)
        return {"outcome": outcome, "chunks": len(records)}

    return _timed("Store", event, run)


# The vector store's size after a Store, on the Store's own open connection (the database is awake
# anyway: no schedule wakes a paused one for this); at most once per function instance per interval.
VECTOR_METRICS_INTERVAL_S = 300
_vector_metrics_throttle = vector_metrics.Throttle(VECTOR_METRICS_INTERVAL_S)


def _measure_vector_store(conn: Any, log: Logger) -> None:
    if not _vector_metrics_throttle.due():
        return
    try:
        vector_metrics.emit(conn, sys.stdout, {"source": "store"})
    except Exception as e:  # a metric never fails a stored document; the schedule measures again
        log.warning("vector store not measured", error=f"{type(e).__name__}: {str(e)[:200]}")


def _current_version(bucket: str, key: str) -> str | None:
    """The version S3 serves for the key now, or None when it serves nothing (no version left, or a
    delete marker on top)."""
    try:
        head = client("s3").head_object(Bucket=bucket, Key=key)
    except Exception as e:
        code = getattr(e, "response", {}).get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NotFound", "405", "MethodNotAllowed"):
            return None
        raise _s3_error(e, f"s3://{bucket}/{key}") from e
    return head.get("VersionId") or "null"


def delete_handler(event: dict, context: Any = None) -> dict:
    def run(log: Logger, metrics: Metrics) -> dict:
        # A delete marker hides the object; a permanent delete removes one version, which matters
        # only if it is the stored one.
        marker = event.get("eventName", "").endswith("DeleteMarkerCreated")
        only = None if marker else event.get("versionId")
        conn = db_connection()
        outcome = db.delete_document(conn, event["bucket"], event["key"], event["sequencer"], only_version=only)
        metrics.add("DocumentsDeleted", 1 if outcome == "deleted" else 0)
        result: dict = {"outcome": outcome}
        if not marker and outcome in ("deleted", "other-version"):
            # A version was removed for good: S3 may now serve another one (the previous version, or
            # the object again after its delete marker was removed). Index what S3 serves now, in
            # this execution (the state machine's Reindex path), ordered by this delete's sequencer.
            current = _current_version(event["bucket"], event["key"])
            stored = db.document_status(conn, event["bucket"], event["key"]) or {}
            if current is not None and not (stored.get("status") == "stored" and stored.get("version_id") == current):
                result["reindex"] = {"versionId": current}
                metrics.add("DocumentsReindexed", 1)
        log.info("delete", **result)
        return result

    return _timed("Delete", event, run)


def retier_handler(event: dict, context: Any = None) -> dict:
    """A tag change of a stored version: its access tier from metadata and the new tags (metadata
    wins, as at ingestion), applied to the document and its chunks without re-embedding."""

    def run(log: Logger, metrics: Metrics) -> dict:
        s3 = client("s3")
        try:
            head = s3.head_object(Bucket=event["bucket"], Key=event["key"], **_version_args(event))
            tags = _object_tags(s3, event)
        except Exception as e:
            raise _s3_error(e, f"reading the tags of s3://{event['bucket']}/{event['key']}") from e
        # An invalid tier raises here and RecordFailure records it for this version only (db.retier_document).
        tier = document_metadata(head.get("Metadata", {}), tags)["accessTier"]
        conn = db_connection()
        outcome = db.retier_document(conn, event["bucket"], event["key"], event.get("versionId"), event["sequencer"], tier)
        metrics.add("DocumentsRetiered", 1 if outcome == "retiered" else 0)
        log.info("retag", outcome=outcome, accessTier=tier)
        result: dict = {"outcome": outcome, "accessTier": tier}
        if isinstance(outcome, db.Rerun):  # outcome "rerun"
            # The version failed because of its metadata and its tags are valid now: run the upsert path
            # for it again (the state machine's RerunAfterTagChange), with the sequencer of the failure.
            result["rerun"] = {"versionId": event.get("versionId"), "sequencer": outcome.sequencer}
        return result

    return _timed("Retier", event, run)


def mark_for_review_handler(event: dict, context: Any = None) -> dict:
    def run(log: Logger, metrics: Metrics) -> dict:
        cause = _cause(event.get("error"))
        db.record_failure(db_connection(), event["bucket"], event["key"], event.get("versionId"), event["sequencer"], cause, status="review")
        metrics.add("DocumentsInReview", 1)
        log.warning("waiting for a person", cause=cause)
        # The one key the approval of this run may name (the review task tells the reviewer).
        return {"status": "review", "cause": cause, "reviewedTextKey": _work_key(event, "reviewed.json")}

    return _timed("MarkForReview", event, run)


def record_failure_handler(event: dict, context: Any = None) -> dict:
    """Every Catch ends here: the document is marked failed with the error, and a metric is published."""

    def run(log: Logger, metrics: Metrics) -> dict:
        error = event.get("error") or {}
        name = str(error.get("Error", "Error"))
        cause = f"{name}: {_cause(error)}"
        if event.get("action") == "retag":
            # A tag change is about one version and ordered among that version's tag changes: only that
            # version is failed (closed), never the current one because an old version's tags are bad.
            outcome = db.retier_document(db_connection(), event["bucket"], event["key"], event.get("versionId"), event.get("sequencer") or "0", None, error=cause)
        else:
            # Keeping what is stored is right when its replacement never arrived, never for a delete:
            # the owner removed the object, so it stops being served (fail closed); the replay cleans up.
            transient = event.get("action") != "delete" and (name in TRANSIENT_ERROR_NAMES or name.startswith("Lambda."))
            outcome = db.record_failure(db_connection(), event["bucket"], event["key"], event.get("versionId"), event.get("sequencer") or "0", cause, transient=transient)
        metrics.add("DocumentsFailed", 1)
        log.error("document failed", error=error.get("Error"), cause=cause, outcome=outcome)
        return {"status": "failed", "error": cause, "outcome": outcome}

    return _timed("RecordFailure", event, run)


def _cause(error: dict | None) -> str:
    if not error:
        return "unknown error"
    cause = error.get("Cause", "")
    try:  # Lambda errors arrive as a JSON string with errorMessage
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            return str(parsed.get("errorMessage") or parsed)[:2000]
    except (TypeError, ValueError):
        pass
    return str(cause)[:2000]


def backfill_item_handler(event: dict, context: Any = None) -> dict:
    """Distributed Map item from the intake bucket listing: turns {"Key": ...} into pipeline input
    for a re-embedding of the current version (same sequencer as stored, so nothing newer is overwritten)."""
    bucket, key = env("INTAKE_BUCKET"), event["Key"]
    metrics = Metrics("backfill")
    try:
        head = client("s3").head_object(Bucket=bucket, Key=key)
    except Exception as e:
        code = getattr(e, "response", {}).get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NotFound"):  # 404, not 403: the function may list the bucket (S3 HeadObject permissions)
            metrics.add("DocumentsSkipped", 1)
            metrics.flush(Step="PrepareItem")
            return {"skip": True, "reason": "deleted since the listing (its delete event removes it from the index)"}
        raise _s3_error(e, f"s3://{bucket}/{key}") from e
    status = _database_errors(lambda: db.document_status(db_connection(), bucket, key))
    if status is None or status["status"] != "stored" or status["version_id"] != head.get("VersionId"):
        metrics.add("DocumentsSkipped", 1)
        metrics.flush(Step="PrepareItem")
        return {"skip": True, "reason": "not stored at this version (the event pipeline will handle it)"}
    return {"skip": False, "input": {"action": "upsert", "reembed": True, "bucket": bucket, "key": key, "versionId": head.get("VersionId"), "sequencer": status["sequencer"], "eventName": "Backfill"}}


__all__ = [
    "validate_handler", "extract_handler", "chunk_handler", "embed_handler", "store_handler", "delete_handler",
    "mark_for_review_handler", "record_failure_handler", "backfill_item_handler", "retier_handler", "document_metadata", "StaleVersion", "drop_db_connection",
]
