"""Ingestion: S3 events from SQS -> one document-pipeline execution per object version.

Each SQS message holds an S3 event notification. For every record:
- ``s3:TestEvent`` and folder placeholders (keys ending in ``/``) are ignored;
- ObjectCreated starts the pipeline's upsert path, ObjectRemoved (delete or delete marker) its delete
  path, ObjectTagging (tags put or deleted) its retag path (the access tier may come from a tag);
- the execution name is derived from bucket, key, version id and action, so a duplicate delivery
  meets ``ExecutionAlreadyExists`` and counts as success: at-least-once delivery becomes
  exactly-once processing per version; when every execution of the event ended unsuccessfully, the
  delivery replays it (``<name>-r<n>``, at most MAX_REPLAYS times): that is how a failed document is
  replayed (scripts/replay.py re-sends its event);
- the S3 ``sequencer`` travels with the input, so the store step can reject an older version that
  arrives after a newer one.

A message that is not an S3 event, a record missing fields or holding a value of the wrong type, or
an event of a bucket other than the intake bucket this function serves (INTAKE_BUCKET; a queue policy
mistake or a forged message), is logged with its message id and reported in ``batchItemFailures``:
SQS redelivers only that message, and after ``maxReceiveCount`` deliveries it lands in the
dead-letter queue, whose alarm calls a person. The rest of the batch is not held back.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable
from urllib.parse import unquote_plus

from docai_shared.errors import MalformedEvent
from docai_shared.observability import Logger, Metrics, correlation_id

EXECUTION_NAME_MAX = 80
_VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_SEQUENCER = re.compile(r"[0-9A-Fa-f]{1,256}")


@dataclass(frozen=True)
class DocumentChange:
    """One S3 object change the pipeline must act on."""

    action: str  # "upsert" | "delete"
    bucket: str
    key: str
    version_id: str | None
    sequencer: str
    event_name: str
    event_time: str
    size: int | None
    etag: str | None

    def pipeline_input(self) -> dict[str, Any]:
        # Deterministic: built from the S3 record only (never the SQS message id or receive time),
        # so a redelivered event produces byte-identical input.
        return {
            "action": self.action,
            "bucket": self.bucket,
            "key": self.key,
            "versionId": self.version_id,
            "sequencer": self.sequencer,
            "eventName": self.event_name,
            "eventTime": self.event_time,
            "size": self.size,
            "etag": self.etag,
        }


def execution_name(change: DocumentChange) -> str:
    """``<action>-<sha256(bucket, key, version, action)>``: deterministic, 71 chars, [a-z0-9-] only.

    The key may hold any unicode; Step Functions names allow only a small character set and 80
    characters, so the identity is hashed. For unversioned deletes the sequencer keeps distinct
    deletes of the same key distinct.
    """
    version = change.version_id or f"seq:{change.sequencer}"
    if change.action == "retag":  # one version can be re-tagged many times: each change is its own run
        version = f"{change.version_id}@{change.sequencer}"
    identity = json.dumps([change.bucket, change.key, version, change.action], ensure_ascii=False)
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()
    name = f"{change.action}-{digest}"
    assert len(name) <= EXECUTION_NAME_MAX and _VALID_NAME.match(name)
    return name


def _require(obj: Any, *path: str) -> Any:
    cur = obj
    for p in path:
        if not isinstance(cur, dict) or p not in cur or cur[p] is None:
            raise MalformedEvent(f"missing field {'.'.join(path)}")
        cur = cur[p]
    return cur


def parse_message(body: str, intake_bucket: str | None = None) -> list[DocumentChange]:
    """Parses one SQS message body. Returns [] for events to ignore; raises MalformedEvent otherwise
    (also for any record of a bucket other than ``intake_bucket``, when given)."""
    try:
        return _parse_message(body, intake_bucket)
    except MalformedEvent:
        raise
    except Exception as e:  # a field of the wrong type (a non-numeric size, an object where a string belongs)
        raise MalformedEvent(f"record does not have the shape of an S3 event: {type(e).__name__}: {e}") from e


class ForeignBucket(MalformedEvent):
    """An event of a bucket this function does not serve."""


def _parse_message(body: str, intake_bucket: str | None) -> list[DocumentChange]:
    try:
        doc = json.loads(body)
    except (TypeError, ValueError) as e:
        raise MalformedEvent(f"body is not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise MalformedEvent("body is not a JSON object")
    if doc.get("Event") == "s3:TestEvent":
        return []
    records = doc.get("Records")
    if not isinstance(records, list) or not records:
        raise MalformedEvent("not an S3 event notification (no Records)")
    changes = []
    for rec in records:
        if not isinstance(rec, dict) or rec.get("eventSource") != "aws:s3":
            raise MalformedEvent("record is not from aws:s3")
        event_name = str(_require(rec, "eventName"))
        if event_name.startswith("ObjectCreated:"):
            action = "upsert"
        elif event_name.startswith("ObjectRemoved:"):
            action = "delete"
        elif event_name.startswith("ObjectTagging:"):
            action = "retag"  # the access tier may come from a tag
        else:
            continue  # other S3 event types are not routed here; nothing to do
        bucket = str(_require(rec, "s3", "bucket", "name"))
        if intake_bucket is not None and bucket != intake_bucket:
            raise ForeignBucket(f"event of bucket {bucket!r}, but this function serves {intake_bucket!r}: no execution started")
        raw_key = _require(rec, "s3", "object", "key")
        if not isinstance(raw_key, str) or raw_key == "":
            raise MalformedEvent("s3.object.key is empty")
        key = unquote_plus(raw_key)  # S3 form-encodes keys: '+' is a space, '%2B' is '+'
        obj = rec["s3"]["object"]
        size = obj.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise MalformedEvent(f"s3.object.size {size!r} is not a whole number of bytes")
        if key.endswith("/") and action == "upsert" and not size:
            continue  # a console "folder" placeholder, not a document
        sequencer = _require(rec, "s3", "object", "sequencer")
        # Compared as hex by every write (docai_shared.db.compare_sequencers): a first row written with
        # any other sequencer would make every later event of the key fail, its failure unrecorded.
        if not isinstance(sequencer, str) or not _SEQUENCER.fullmatch(sequencer):
            raise MalformedEvent(f"s3.object.sequencer {sequencer!r} is not a hexadecimal string as S3 sends it")
        for name in ("versionId", "eTag"):
            if obj.get(name) is not None and (not isinstance(obj[name], str) or obj[name] == ""):
                raise MalformedEvent(f"s3.object.{name} {obj[name]!r} is not a non-empty string")
        changes.append(
            DocumentChange(
                action=action,
                bucket=bucket,
                key=key,
                version_id=obj.get("versionId"),
                sequencer=sequencer,
                event_name=event_name,
                event_time=str(rec.get("eventTime", "")),
                size=obj.get("size"),
                etag=obj.get("eTag"),
            )
        )
    return changes


MAX_REPLAYS = 3
_ENDED_UNSUCCESSFULLY = ("FAILED", "TIMED_OUT", "ABORTED")


def replay_name(name: str, attempt: int) -> str:
    """The execution name of replay ``attempt`` (1, 2, ...) of an event: the first name plus ``-r<n>``."""
    return name if attempt == 0 else f"{name}-r{attempt}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def start_execution(sfn: Any, state_machine_arn: str, change: DocumentChange) -> str:
    """Starts the execution; returns "started", "duplicate" (an execution of this event is running or
    succeeded: success, nothing to do), "replayed" (every earlier execution of this event failed, timed
    out or was aborted: a new one is started, named ``<name>-r<n>``, marked ``replay``), or
    "replay-limit" (MAX_REPLAYS replays failed already: the event is dropped as processed, the
    document stays recorded failed).

    So a document that failed is replayed by delivering its event again (redrive, or
    scripts/replay.py), while a duplicate delivery of a live event stays harmless.
    """
    base = execution_name(change)
    for attempt in range(MAX_REPLAYS + 1):
        name = replay_name(base, attempt)
        payload = {**change.pipeline_input(), **({"replay": attempt} if attempt else {})}
        try:
            sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload, sort_keys=True))
            return "replayed" if attempt else "started"
        except sfn.exceptions.ExecutionAlreadyExists:
            status = sfn.describe_execution(executionArn=execution_arn(state_machine_arn, name))["status"]
            if status not in _ENDED_UNSUCCESSFULLY:
                return "duplicate"
    return "replay-limit"


def process_batch(records: Iterable[dict], sfn: Any, state_machine_arn: str, log: Logger, metrics: Metrics, intake_bucket: str | None = None) -> dict:
    failures = []
    for record in records:
        message_id = record.get("messageId", "<none>") if isinstance(record, dict) else "<none>"
        try:
            changes = parse_message(record.get("body", ""), intake_bucket)
        except ForeignBucket as e:
            log.error("event of another bucket refused: reported as a batch item failure (it will reach the dead-letter queue)", messageId=message_id, error=str(e))
            metrics.add("ForeignBucketRecords", 1)
            failures.append({"itemIdentifier": message_id})
            continue
        except Exception as e:  # MalformedEvent, or a record that is not even a dict: it alone fails
            log.error("malformed record: reported as a batch item failure (it will reach the dead-letter queue)", messageId=message_id, error=str(e))
            metrics.add("MalformedRecords", 1)
            failures.append({"itemIdentifier": message_id})
            continue
        if not changes:
            metrics.add("IgnoredRecords", 1)
            continue
        for change in changes:
            clog = log.bind(correlation_id=correlation_id(change.bucket, change.key, change.version_id), messageId=message_id)
            try:
                outcome = start_execution(sfn, state_machine_arn, change)
            except Exception as e:  # throttling, network: retry this message later
                clog.error("could not start the pipeline; the message will be redelivered", error=repr(e), action=change.action)
                metrics.add("StartFailures", 1)
                failures.append({"itemIdentifier": message_id})
                break
            clog.info("pipeline execution " + outcome, action=change.action, sequencer=change.sequencer, execution=execution_name(change))
            metrics.add({"started": "ExecutionsStarted", "replayed": "Replays", "replay-limit": "ReplayLimitReached"}.get(outcome, "DuplicateEvents"), 1)
    metrics.flush()
    return {"batchItemFailures": failures}


_sfn = None


def handler(event: dict, context: Any) -> dict:
    global _sfn
    if _sfn is None:
        import boto3

        _sfn = boto3.client("stepfunctions")
    intake_bucket = os.environ.get("INTAKE_BUCKET")
    if not intake_bucket:
        # Fail closed: without the bucket it serves, the function would start executions for any bucket's
        # events. The batch fails whole and is redelivered until the dead-letter queue (alarmed) holds it.
        raise RuntimeError("INTAKE_BUCKET is not set (the IngestionFunction construct sets it): refusing to start executions for events of an unknown bucket")
    log = Logger("ingestion").bind(requestId=getattr(context, "aws_request_id", None))
    return process_batch(event.get("Records", []), _sfn, os.environ["STATE_MACHINE_ARN"], log, Metrics(os.environ.get("WORKFLOW", "ingestion")),
                         intake_bucket=intake_bucket)


__all__ = ["DocumentChange", "execution_name", "parse_message", "process_batch", "handler", "asdict"]
