"""Real-shaped S3 event notifications (as S3 delivers them to SQS), for tests."""
import json


def s3_record(event_name: str, key_encoded: str, version_id: str | None = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", size: int | None = 1024, sequencer: str = "0055AED6DCD90281E5", bucket: str = "docai-intake") -> dict:
    obj = {"key": key_encoded, "sequencer": sequencer}
    if size is not None and event_name.startswith("ObjectCreated"):
        obj.update({"size": size, "eTag": "d41d8cd98f00b204e9800998ecf8427e"})
    if version_id is not None:
        obj["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-21T12:00:00.000Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "docai-intake-created",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def s3_message(*records: dict) -> str:
    return json.dumps({"Records": list(records)})


TEST_EVENT = json.dumps({
    "Service": "Amazon S3",
    "Event": "s3:TestEvent",
    "Time": "2026-11-21T12:00:00.000Z",
    "Bucket": "docai-intake",
    "RequestId": "5582815E1AEA5ADF",
    "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
})


def sqs_record(body: str, message_id: str) -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1732190400000"},
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingestion",
        "awsRegion": "us-east-1",
    }
