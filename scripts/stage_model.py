"""Stages a model's artifacts in this account's bucket, so the SageMaker endpoint loads them from S3
with network isolation instead of downloading them from the Hugging Face Hub at start (issue 25, item 1).

    python3 scripts/stage_model.py --model BAAI/bge-base-en-v1.5 --bucket docai-models-<account>-<region> --region <region> [--record]

1. Downloads each file of lib/gpu-inference/model-artifacts.json at the table's pinned revision (a
   commit of the Hub repository: https://huggingface.co/<model>/resolve/<revision>/<path>).
2. Checks each file's SHA-256 against the table and stops at the first that differs. A file the table
   has no checksum for stops the run too, unless --record: then the computed checksums are written
   into the table for review and commit, and nothing is uploaded (upload after the commit).
3. Creates the bucket when it does not exist (public access blocked, SSE-S3, versioning, TLS-only
   policy, bucket-owner-enforced), and uploads model.tar.gz (the files at its root, as SageMaker
   unpacks ModelDataUrl into /opt/ml/model) with the revision and the files digest in its metadata,
   which the deploy preflight compares with the table (scripts/model_artifacts.py).

Needs internet (the Hub) and credentials for S3; tested offline on moto with a fixture fetcher.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_artifacts import (
    META_FILES,
    META_REVISION,
    TABLE,
    archive_key,
    files_digest,
    load_table,
)

HUB = "https://huggingface.co"


class StagingError(Exception):
    pass


def hub_fetch(model_id: str, revision: str, path: str, dest: str) -> None:
    with urllib.request.urlopen(f"{HUB}/{model_id}/resolve/{revision}/{path}", timeout=60) as r, open(dest, "wb") as out:
        while chunk := r.read(1 << 20):
            out.write(chunk)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def download_verified(model_id: str, entry: dict, workdir: str, fetch: Callable[[str, str, str, str], None], record: bool) -> dict[str, str]:
    """path -> sha256 of every file, downloaded at the pinned revision; StagingError on a mismatch (or, without record, a missing checksum)."""
    got = {}
    for f in entry["files"]:
        dest = os.path.join(workdir, f["path"])
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        fetch(model_id, entry["revision"], f["path"], dest)
        digest = _sha256(dest)
        if f.get("sha256") and f["sha256"] != digest:
            raise StagingError(f"{model_id}@{entry['revision']}: {f['path']} has SHA-256 {digest}, the table records {f['sha256']}: not staged. "
                               "Either the download was tampered with, or the table is wrong; check the file on the Hub at that commit.")
        if not f.get("sha256") and not record:
            raise StagingError(f"{model_id}@{entry['revision']}: no SHA-256 recorded for {f['path']}. Run with --record, review the checksums it writes into "
                               "lib/gpu-inference/model-artifacts.json, commit them, then run again without --record.")
        got[f["path"]] = digest
    return got


def build_archive(workdir: str, files: list[dict], out: str) -> None:
    """A reproducible tar.gz: sorted entries, fixed owner and times, gzip without a timestamp."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in sorted(files, key=lambda f: f["path"]):
            info = tar.gettarinfo(os.path.join(workdir, f["path"]), arcname=f["path"])
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            info.mode = 0o644
            with open(os.path.join(workdir, f["path"]), "rb") as data:
                tar.addfile(info, data)
    with open(out, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())


def ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except Exception as e:
        if getattr(e, "response", {}).get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))


def stage(model_id: str, bucket: str, region: str, s3: Any, fetch: Callable[[str, str, str, str], None] = hub_fetch, record: bool = False, table_path: str = TABLE) -> str:
    """Returns the uploaded archive's key (or, with record, the table path written)."""
    table = load_table(table_path)
    entry = table["models"].get(model_id)
    if entry is None:
        raise StagingError(f"{model_id} is not in {table_path}; models: {', '.join(table['models'])}")
    with tempfile.TemporaryDirectory() as workdir:
        got = download_verified(model_id, entry, workdir, fetch, record)
        if record:
            for f in entry["files"]:
                f["sha256"] = got[f["path"]]
            with open(table_path, "w") as out:
                json.dump(table, out, indent=2)
                out.write("\n")
            for path, digest in got.items():
                print(f"recorded {path} sha256 {digest}")
            print(f"Review and commit {table_path}, then run again without --record to upload.")
            return table_path
        archive = os.path.join(workdir, "model.tar.gz")
        build_archive(workdir, entry["files"], archive)
        ensure_bucket(s3, bucket, region)
        key = archive_key(model_id, entry["revision"])
        with open(archive, "rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256",
                          Metadata={META_REVISION: entry["revision"], META_FILES: files_digest(entry["files"])})
        print(f"staged s3://{bucket}/{key} ({os.path.getsize(archive)} bytes, files digest {files_digest(entry['files'])[:16]})")
        return key


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--bucket", required=True, help="docai-models-<account>-<region>: the name the inference stack reads from")
    p.add_argument("--region", required=True)
    p.add_argument("--record", action="store_true", help="write the downloaded files' checksums into the table instead of uploading")
    a = p.parse_args()
    import boto3

    try:
        stage(a.model, a.bucket, a.region, boto3.client("s3", region_name=a.region), record=a.record)
    except StagingError as e:
        print(f"FAIL {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
