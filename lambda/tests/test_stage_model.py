"""Staging model artifacts (scripts/stage_model.py) and the preflight's check of them
(scripts/model_artifacts.py), on moto S3 with a fixture in place of the Hub: what the endpoint will
load is exactly the table's pinned files, and a deploy without them is refused by name."""
import copy
import hashlib
import io
import json
import os
import sys
import tarfile

import boto3
import pytest
from moto import mock_aws

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
import model_artifacts
import stage_model

MODEL = "BAAI/bge-base-en-v1.5"
ACCOUNT, REGION = "123456789012", "eu-west-1"
BUCKET = model_artifacts.bucket_name(ACCOUNT, REGION)


def hub_files():
    return {f["path"]: f"contents of {f['path']}".encode() for f in model_artifacts.load_table()["models"][MODEL]["files"]}


def fetcher(files, calls=None):
    def fetch(model_id, revision, path, dest):
        if calls is not None:
            calls.append((model_id, revision, path))
        open(dest, "wb").write(files[path])
    return fetch


@pytest.fixture
def table(tmp_path):
    """The real table with its checksums as --record would write them for the fixture files."""
    t = model_artifacts.load_table()
    path = tmp_path / "model-artifacts.json"
    path.write_text(json.dumps(t))
    return str(path)


@pytest.fixture
def s3():
    with mock_aws():
        yield boto3.client("s3", region_name=REGION)


def recorded(table):
    stage_model.stage(MODEL, BUCKET, REGION, None, fetcher(hub_files()), record=True, table_path=table)
    return json.load(open(table))


def test_record_writes_the_pinned_revisions_checksums_and_uploads_nothing(table, s3):
    calls = []
    stage_model.stage(MODEL, BUCKET, REGION, s3, fetcher(hub_files(), calls), record=True, table_path=table)
    entry = json.load(open(table))["models"][MODEL]
    revision = model_artifacts.load_table()["models"][MODEL]["revision"]
    assert {c[1] for c in calls} == {revision} and len(calls) == len(entry["files"])  # only the pinned commit
    assert all(f["sha256"] == hashlib.sha256(hub_files()[f["path"]]).hexdigest() for f in entry["files"])
    assert s3.list_buckets()["Buckets"] == []


def test_a_new_bucket_is_private_encrypted_versioned_and_tls_only(s3):
    stage_model.ensure_bucket(s3, BUCKET, REGION)
    assert all(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"].values())
    assert s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    assert s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
    statement = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_staging_uploads_the_verified_files_and_the_preflight_accepts_them(table, s3):
    t = recorded(table)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})  # moto serves plain HTTP, which the TLS-only policy would refuse
    key = stage_model.stage(MODEL, BUCKET, REGION, s3, fetcher(hub_files()), table_path=table)
    assert key == f"models/{MODEL}/{t['models'][MODEL]['revision']}/model.tar.gz"
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        assert {m.name: tar.extractfile(m).read() for m in tar.getmembers()} == hub_files()  # files at the root: /opt/ml/model/<path>
    assert model_artifacts.check_staged(s3, ACCOUNT, REGION, [MODEL], t) == []
    # Reproducible: the same files give the same archive.
    stage_model.stage(MODEL, BUCKET, REGION, s3, fetcher(hub_files()), table_path=table)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body


def test_a_file_that_differs_from_the_table_stops_the_staging_before_any_upload(table, s3):
    recorded(table)
    tampered = {**hub_files(), "model.safetensors": b"weights with a backdoor"}
    with pytest.raises(stage_model.StagingError, match="model.safetensors has SHA-256 .* the table records"):
        stage_model.stage(MODEL, BUCKET, REGION, s3, fetcher(tampered), table_path=table)
    assert s3.list_buckets()["Buckets"] == []


def test_unrecorded_checksums_stop_the_staging_and_the_preflight(table, s3):
    with pytest.raises(stage_model.StagingError, match="no SHA-256 recorded for config.json. Run with --record"):
        stage_model.stage(MODEL, BUCKET, REGION, s3, fetcher(hub_files()), table_path=table)
    [problem] = model_artifacts.check_staged(s3, ACCOUNT, REGION, [MODEL], json.load(open(table)))
    assert "no SHA-256 recorded for config.json" in problem and "--record" in problem


def test_the_preflight_refuses_a_missing_or_foreign_archive_naming_the_fix(table, s3):
    t = recorded(table)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    [missing] = model_artifacts.check_staged(s3, ACCOUNT, REGION, [MODEL], t)
    assert f"s3://{BUCKET}/models/{MODEL}/" in missing and "is not staged (HeadObject: 404)" in missing
    assert f"Fix: python3 scripts/stage_model.py --model {MODEL} --bucket {BUCKET} --region {REGION}" in missing
    stage_model.stage(MODEL, BUCKET, REGION, s3, fetcher(hub_files()), table_path=table)
    changed = copy.deepcopy(t)
    changed["models"][MODEL]["files"][0]["sha256"] = "0" * 64  # the table moved on: the staged archive is stale
    [stale] = model_artifacts.check_staged(s3, ACCOUNT, REGION, [MODEL], changed)
    assert "was staged from other files" in stale
    [unknown] = model_artifacts.check_staged(s3, ACCOUNT, REGION, ["someone/else"], t)
    assert "not in lib/gpu-inference/model-artifacts.json" in unknown
