"""Replays a document whose pipeline execution failed: re-sends the S3 event of that execution to the
ingestion queue. The ingestion function finds the event's execution ended unsuccessfully and starts a
replay (`<execution name>-r<n>`, counted under the `replay` workflow); a duplicate of a live event
stays harmless. Uses your AWS credentials: states:DescribeExecution on the execution (and kms:Decrypt
on the pipeline's key), sqs:SendMessage on the ingestion queue (and its key).

    .venv/bin/python scripts/replay.py --execution-arn arn:aws:states:...:execution:docai-...:upsert-... --queue-url https://sqs....
"""
from __future__ import annotations

import json
import os
import sys
from urllib.parse import quote_plus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_args import StrictParser  # noqa: E402

REPLAYABLE = ("FAILED", "TIMED_OUT", "ABORTED")


def event_for(execution_input: dict) -> dict:
    """The S3 event notification the execution was started from (as S3 form-encodes keys)."""
    obj = {"key": quote_plus(execution_input["key"], safe="/"), "sequencer": execution_input["sequencer"]}
    for field, name in (("versionId", "versionId"), ("size", "size"), ("etag", "eTag")):
        if execution_input.get(field) is not None:
            obj[name] = execution_input[field]
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventTime": execution_input.get("eventTime", ""),
        "eventName": execution_input["eventName"],
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": execution_input["bucket"]}, "object": obj},
    }]}


def replay(sfn, sqs, execution_arn: str, queue_url: str) -> str:
    ex = sfn.describe_execution(executionArn=execution_arn)
    if ex["status"] not in REPLAYABLE:
        raise SystemExit(f"replay: {execution_arn} is {ex['status']}; only a FAILED, TIMED_OUT or ABORTED execution is replayed (nothing sent)")
    execution_input = json.loads(ex["input"])
    if execution_input.get("reembed"):
        raise SystemExit("replay: this is a backfill item (a re-embedding): run the backfill again instead (README, DocumentPipeline)")
    body = json.dumps(event_for(execution_input))
    return sqs.send_message(QueueUrl=queue_url, MessageBody=body)["MessageId"]


def main(argv: list[str] | None = None) -> None:
    ap = StrictParser(prog="scripts/replay.py", description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--execution-arn", required=True, help="the failed execution (Step Functions console, or the documents table's key and the pipeline's executions)")
    ap.add_argument("--queue-url", required=True, help="the stage's ingestion queue (aws sqs get-queue-url, or the data stack's resources)")
    ap.add_argument("--region", default=None)
    a = ap.parse_args(argv)
    import boto3

    region = a.region or a.execution_arn.split(":")[3]
    message_id = replay(boto3.client("stepfunctions", region_name=region), boto3.client("sqs", region_name=region), a.execution_arn, a.queue_url)
    print(f"sent the event of {a.execution_arn} to the ingestion queue (message {message_id}); the ingestion function starts its replay")


if __name__ == "__main__":
    main()
