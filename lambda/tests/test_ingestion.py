import io
import json
import re

import boto3
import pytest
from moto import mock_aws

from docai_shared.errors import MalformedEvent
from docai_shared.observability import Logger, Metrics
from ingestion_handler import DocumentChange, execution_name, parse_message, process_batch
from s3_events import TEST_EVENT, s3_message, s3_record, sqs_record

REGION = "us-east-1"


@pytest.fixture
def sfn():
    with mock_aws():
        client = boto3.client("stepfunctions", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        arn = client.create_state_machine(name="pipeline", definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}), roleArn=role)["stateMachineArn"]
        yield client, arn


def run(sfn_fixture, records):
    client, arn = sfn_fixture
    out = io.StringIO()
    result = process_batch(records, client, arn, Logger("ingestion", stream=out), Metrics("ingestion", stream=out))
    return result, [json.loads(line) for line in out.getvalue().splitlines()]


def executions(sfn_fixture):
    client, arn = sfn_fixture
    return client.list_executions(stateMachineArn=arn)["executions"]


# --- parsing real event shapes -------------------------------------------------------------

@pytest.mark.parametrize(
    "encoded,expected",
    [
        ("reports/annual+report+2026.pdf", "reports/annual report 2026.pdf"),  # spaces arrive as '+'
        ("math/a%2Bb%3Dc.txt", "math/a+b=c.txt"),  # a literal '+' arrives as %2B
        ("docs/%C3%BCbersicht+%E6%97%A5%E6%9C%AC.docx", "docs/übersicht 日本.docx"),  # unicode, UTF-8 percent-encoded
        ("100%25+done.md", "100% done.md"),  # a literal '%'
        ("plain.html", "plain.html"),
    ],
)
def test_keys_are_url_decoded_like_s3_encodes_them(encoded, expected):
    [change] = parse_message(s3_message(s3_record("ObjectCreated:Put", encoded)))
    assert change.key == expected


def test_put_multipart_and_copy_are_upserts_carrying_version_and_sequencer():
    for name in ("ObjectCreated:Put", "ObjectCreated:CompleteMultipartUpload", "ObjectCreated:Copy"):
        [c] = parse_message(s3_message(s3_record(name, "a.pdf", version_id="v1", sequencer="00ABC")))
        assert (c.action, c.version_id, c.sequencer, c.size) == ("upsert", "v1", "00ABC", 1024)


def test_delete_and_delete_marker_are_deletes():
    [d] = parse_message(s3_message(s3_record("ObjectRemoved:Delete", "a.pdf", version_id="v1")))
    [m] = parse_message(s3_message(s3_record("ObjectRemoved:DeleteMarkerCreated", "a.pdf", version_id="dm1")))
    assert d.action == m.action == "delete"
    assert m.version_id == "dm1"


def test_test_event_and_folder_placeholders_are_ignored():
    assert parse_message(TEST_EVENT) == []
    assert parse_message(s3_message(s3_record("ObjectCreated:Put", "reports/2026/", size=0))) == []


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"hello": "world"}),
        json.dumps({"Records": [{"eventSource": "aws:sns"}]}),
        json.dumps({"Records": [{**s3_record("ObjectCreated:Put", "a.pdf"), "s3": {"bucket": {"name": "b"}, "object": {"key": "a.pdf"}}}]}),  # no sequencer
        json.dumps({"Records": [{**s3_record("ObjectCreated:Put", "a.pdf"), "s3": {"bucket": {"name": "b"}, "object": {"key": "", "sequencer": "1"}}}]}),
    ],
)
def test_malformed_bodies_raise_a_named_error(body):
    with pytest.raises(MalformedEvent):
        parse_message(body)


# --- execution names ----------------------------------------------------------------------

def change(key="a.pdf", version="v1", action="upsert", bucket="b", sequencer="1"):
    return DocumentChange(action, bucket, key, version, sequencer, "ObjectCreated:Put", "t", 1, "e")


def test_execution_name_is_deterministic_short_and_valid():
    long_unicode_key = "très/long/" + "日本語ファイル名" * 60 + ".pdf"
    for c in (change(), change(key=long_unicode_key), change(key="a b+c%/ü?*\"<>|.pdf", version=None)):
        n = execution_name(c)
        assert n == execution_name(c)
        assert len(n) <= 80
        assert re.fullmatch(r"[A-Za-z0-9_-]+", n)


def test_execution_name_differs_by_version_key_bucket_and_action():
    names = {execution_name(c) for c in (change(), change(version="v2"), change(key="b.pdf"), change(bucket="c"), change(action="delete"))}
    assert len(names) == 5


def test_unversioned_deletes_of_the_same_key_are_distinct_by_sequencer():
    assert execution_name(change(version=None, action="delete", sequencer="1")) != execution_name(change(version=None, action="delete", sequencer="2"))


# --- the batch, against Step Functions (moto) -----------------------------------------------

def test_a_created_object_starts_one_execution_with_the_documented_input(sfn):
    result, logs = run(sfn, [sqs_record(s3_message(s3_record("ObjectCreated:Put", "in/a+b.pdf", version_id="v9", sequencer="00F1")), "m1")])
    assert result == {"batchItemFailures": []}
    [ex] = executions(sfn)
    client, _ = sfn
    inp = json.loads(client.describe_execution(executionArn=ex["executionArn"])["input"])
    assert inp == {"action": "upsert", "bucket": "docai-intake", "key": "in/a b.pdf", "versionId": "v9", "sequencer": "00F1", "eventName": "ObjectCreated:Put", "eventTime": "2026-11-21T12:00:00.000Z", "size": 1024, "etag": "d41d8cd98f00b204e9800998ecf8427e"}
    assert ex["name"].startswith("upsert-")
    assert any(l.get("correlation_id") == "s3://docai-intake/in/a b.pdf#v9" for l in logs)


def test_duplicate_delivery_is_harmless(sfn):
    body = s3_message(s3_record("ObjectCreated:Put", "a.pdf", version_id="v1"))
    first, _ = run(sfn, [sqs_record(body, "m1")])
    second, logs = run(sfn, [sqs_record(body, "m1-redelivered"), sqs_record(body, "m1-again")])
    assert first == second == {"batchItemFailures": []}
    # Step Functions answers a same-name, same-input start on a running execution with that execution
    assert len(executions(sfn)) == 1
    assert [l for l in logs if "_aws" in l][0]["ExecutionsStarted"] == 2


def test_duplicate_delivery_after_the_execution_succeeded_counts_as_success(sfn, monkeypatch):
    client, _ = sfn
    body = s3_message(s3_record("ObjectCreated:Put", "a.pdf", version_id="v1"))
    run(sfn, [sqs_record(body, "m1")])
    [ex] = executions(sfn)
    client.stop_execution(executionArn=ex["executionArn"])  # closed: a new start now raises ExecutionAlreadyExists
    real = client.describe_execution
    monkeypatch.setattr(client, "describe_execution", lambda **kw: {**real(**kw), "status": "SUCCEEDED"})  # moto cannot finish one
    result, logs = run(sfn, [sqs_record(body, "m1-redelivered")])
    assert result == {"batchItemFailures": []}
    assert len(executions(sfn)) == 1
    assert [l for l in logs if "_aws" in l][0]["DuplicateEvents"] == 1


def test_a_failed_document_is_replayed_by_delivering_its_event_again_and_duplicates_stay_harmless(sfn, monkeypatch):
    client, arn = sfn
    body = s3_message(s3_record("ObjectCreated:Put", "scan.pdf", version_id="v1"))
    run(sfn, [sqs_record(body, "m1")])
    [first] = executions(sfn)
    failed = {first["executionArn"]}
    real = client.describe_execution
    monkeypatch.setattr(client, "describe_execution", lambda **kw: {**real(**kw), **({"status": "FAILED"} if kw["executionArn"] in failed else {})})
    client.stop_execution(executionArn=first["executionArn"])

    result, logs = run(sfn, [sqs_record(body, "redrive-1")])  # the redriven event
    assert result == {"batchItemFailures": []}
    names = sorted(e["name"] for e in executions(sfn))
    assert names == [first["name"], first["name"] + "-r1"]
    replay = next(e for e in executions(sfn) if e["name"].endswith("-r1"))
    assert json.loads(client.describe_execution(executionArn=replay["executionArn"])["input"])["replay"] == 1
    assert [l for l in logs if "_aws" in l][0]["Replays"] == 1
    # a duplicate of the redriven event while the replay runs: nothing new
    run(sfn, [sqs_record(body, "redrive-1-again")])
    assert len(executions(sfn)) == 2
    # the replay fails too: the next delivery replays again, up to MAX_REPLAYS, then stops
    for n in (1, 2, 3):
        ex = next(e for e in executions(sfn) if e["name"].endswith(f"-r{n}"))
        client.stop_execution(executionArn=ex["executionArn"])
        failed.add(ex["executionArn"])
        run(sfn, [sqs_record(body, f"redrive-{n + 1}")])
    assert len(executions(sfn)) == 4  # the first and three replays
    _, logs = run(sfn, [sqs_record(body, "redrive-5")])
    assert [l for l in logs if "_aws" in l][0]["ReplayLimitReached"] == 1


def test_a_delete_marker_starts_the_delete_path(sfn):
    run(sfn, [sqs_record(s3_message(s3_record("ObjectRemoved:DeleteMarkerCreated", "a.pdf", version_id="dm1")), "m1")])
    [ex] = executions(sfn)
    client, _ = sfn
    assert json.loads(client.describe_execution(executionArn=ex["executionArn"])["input"])["action"] == "delete"


def test_a_mixed_batch_reports_only_the_malformed_records(sfn):
    records = [
        sqs_record(s3_message(s3_record("ObjectCreated:Put", "good1.pdf", version_id="a")), "good-1"),
        sqs_record("{not json", "bad-1"),
        sqs_record(TEST_EVENT, "test-event"),
        sqs_record(json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}), "bad-2"),
        sqs_record(s3_message(s3_record("ObjectCreated:CompleteMultipartUpload", "good2.pdf", version_id="b")), "good-2"),
    ]
    result, logs = run(sfn, records)
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-1"}, {"itemIdentifier": "bad-2"}]}
    assert len(executions(sfn)) == 2  # the good ones were not blocked
    errors = [l for l in logs if l.get("level") == "ERROR"]
    assert {l["messageId"] for l in errors} == {"bad-1", "bad-2"}
    assert [l for l in logs if "_aws" in l][0]["MalformedRecords"] == 2


def test_a_failing_start_is_retried_through_sqs_not_lost(sfn):
    client, arn = sfn

    class Throttling:
        exceptions = client.exceptions

        def start_execution(self, **kw):
            raise client.exceptions.ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "StartExecution")

    out = io.StringIO()
    result = process_batch([sqs_record(s3_message(s3_record("ObjectCreated:Put", "a.pdf")), "m1")], Throttling(), arn, Logger("i", stream=out), Metrics("ingestion", stream=out))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_scripts_replay_re_sends_the_failed_executions_event_and_ingestion_replays_it(sfn):
    import importlib.util
    import os

    spec = importlib.util.spec_from_file_location("replay", os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "replay.py"))
    replay = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(replay)
    client, arn = sfn
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="ingestion")["QueueUrl"]
    body = s3_message(s3_record("ObjectCreated:Put", "in/annual+report+%C3%BCber.pdf", version_id="v7"))
    run(sfn, [sqs_record(body, "m1")])
    [first] = executions(sfn)
    with pytest.raises(SystemExit, match="is RUNNING"):
        replay.replay(client, sqs, first["executionArn"], queue)  # a live execution is not replayed
    client.stop_execution(executionArn=first["executionArn"])
    replay.replay(client, sqs, first["executionArn"], queue)
    [message] = sqs.receive_message(QueueUrl=queue)["Messages"]
    # the re-sent event is the same change (same key after S3's form encoding, version, sequencer)
    assert parse_message(message["Body"]) == parse_message(body)
    run(sfn, [sqs_record(message["Body"], message["MessageId"])])
    replayed = next(e for e in executions(sfn) if e["name"].endswith("-r1"))
    original = json.loads(client.describe_execution(executionArn=first["executionArn"])["input"])
    assert json.loads(client.describe_execution(executionArn=replayed["executionArn"])["input"]) == {**original, "replay": 1}


def test_a_tag_change_starts_the_retag_path_and_each_change_is_its_own_run(sfn):
    body1 = s3_message(s3_record("ObjectTagging:Put", "a.pdf", version_id="v1", sequencer="00A1"))
    body2 = s3_message(s3_record("ObjectTagging:Put", "a.pdf", version_id="v1", sequencer="00A2"))
    [change] = parse_message(body1)
    assert change.action == "retag" and change.version_id == "v1"
    run(sfn, [sqs_record(body1, "t1"), sqs_record(body2, "t2"), sqs_record(body1, "t1-again")])
    names = sorted(e["name"] for e in executions(sfn))
    assert len(names) == 2 and all(n.startswith("retag-") for n in names)  # two changes, one duplicate
    assert parse_message(s3_message(s3_record("ObjectTagging:Delete", "a.pdf", version_id="v1")))[0].action == "retag"


# --- every bad record fails alone; other buckets are refused --------------------------------

def test_a_record_with_a_field_of_the_wrong_type_fails_alone(sfn):
    # was: a non-numeric size on a folder key raised ValueError out of process_batch: the whole batch failed
    folder = s3_record("ObjectCreated:Put", "reports/2026/")
    folder["s3"]["object"]["size"] = "zero"
    not_a_dict = s3_record("ObjectCreated:Put", "x.pdf")
    not_a_dict["s3"]["object"] = ["x.pdf"]
    records = [
        sqs_record(s3_message(folder), "bad-size"),
        sqs_record(s3_message(s3_record("ObjectCreated:Put", "good.pdf", version_id="g")), "good"),
        sqs_record(s3_message(not_a_dict), "bad-object"),
        "not even a record",
    ]
    result, logs = run(sfn, records)
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-size"}, {"itemIdentifier": "bad-object"}, {"itemIdentifier": "<none>"}]}
    assert len(executions(sfn)) == 1
    assert any("s3.object.size 'zero'" in l.get("error", "") for l in logs)
    with pytest.raises(MalformedEvent, match="size"):
        parse_message(s3_message(folder))


@pytest.mark.parametrize("field,value", [("sequencer", "not-hex"), ("sequencer", ""), ("sequencer", 12), ("versionId", {"id": "v1"}), ("versionId", 7), ("eTag", 5)])
def test_a_record_whose_sequencer_or_version_is_not_as_s3_sends_it_fails_alone(sfn, field, value):
    # Was: the execution started; its Store wrote the first row of the key with that sequencer (no
    # comparison for a new row), and every later event of the key then failed in compare_sequencers,
    # RecordFailure too (FailureNotRecorded): one malformed message poisoned the document for good.
    bad = s3_record("ObjectCreated:Put", "poison.pdf", version_id="v1")
    bad["s3"]["object"][field] = value
    records = [sqs_record(s3_message(bad), "bad"), sqs_record(s3_message(s3_record("ObjectCreated:Put", "good.pdf", version_id="g")), "good")]
    result, logs = run(sfn, records)
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    [ex] = executions(sfn)
    assert json.loads(sfn[0].describe_execution(executionArn=ex["executionArn"])["input"])["key"] == "good.pdf"
    assert any(f"s3.object.{field}" in l.get("error", "") for l in logs)


def test_events_of_another_bucket_start_nothing_and_go_to_the_dead_letter_queue(sfn):
    records = [
        sqs_record(s3_message(s3_record("ObjectCreated:Put", "a.pdf", bucket="someone-elses-bucket")), "foreign"),
        sqs_record(s3_message(s3_record("ObjectCreated:Put", "a.pdf", version_id="v1")), "ours"),
    ]
    client, arn = sfn
    out = io.StringIO()
    result = process_batch(records, client, arn, Logger("ingestion", stream=out), Metrics("ingestion", stream=out), intake_bucket="docai-intake")
    logs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert result == {"batchItemFailures": [{"itemIdentifier": "foreign"}]}  # redelivered, then dead-lettered (alarmed)
    [ex] = executions(sfn)
    assert json.loads(client.describe_execution(executionArn=ex["executionArn"])["input"])["bucket"] == "docai-intake"
    assert [l for l in logs if "_aws" in l][0]["ForeignBucketRecords"] == 1
    assert any("someone-elses-bucket" in l.get("error", "") and l["level"] == "ERROR" for l in logs)


def test_the_deployed_handler_reads_the_bucket_it_serves_from_its_environment(sfn, monkeypatch):
    import ingestion_handler

    client, arn = sfn
    monkeypatch.setattr(ingestion_handler, "_sfn", client)
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("INTAKE_BUCKET", "docai-intake")
    out = ingestion_handler.handler({"Records": [sqs_record(s3_message(s3_record("ObjectCreated:Put", "a.pdf", bucket="other")), "m1")]}, None)
    assert out == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert executions(sfn) == []


def test_the_deployed_handler_without_its_bucket_starts_nothing(sfn, monkeypatch):
    import ingestion_handler

    client, arn = sfn
    monkeypatch.setattr(ingestion_handler, "_sfn", client)
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.delenv("INTAKE_BUCKET", raising=False)
    with pytest.raises(RuntimeError, match="INTAKE_BUCKET is not set"):
        ingestion_handler.handler({"Records": [sqs_record(s3_message(s3_record("ObjectCreated:Put", "a.pdf", bucket="other")), "m1")]}, None)
    assert executions(sfn) == []


def test_a_key_holding_nul_still_starts_its_run_which_records_the_failure():
    [c] = parse_message(s3_message(s3_record("ObjectCreated:Put", "odd/a%00b.txt")))
    assert c.key == "odd/a\x00b.txt"
    assert re.fullmatch(r"upsert-[0-9a-f]{64}", execution_name(c))
