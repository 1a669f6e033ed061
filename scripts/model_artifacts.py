"""Model artifacts in this account's bucket (issue 25, item 1): the table
(lib/gpu-inference/model-artifacts.json), where a model's archive lives, and the digest that ties an
uploaded archive to the table's checksums. Shared by scripts/stage_model.py (which uploads) and the
deploy preflight (which only reads, HeadObject)."""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "gpu-inference", "model-artifacts.json")
ARCHIVE = "model.tar.gz"
# S3 user metadata (x-amz-meta-*) the staging writes and the preflight reads.
META_REVISION = "docai-revision"
META_FILES = "docai-files-sha256"


def load_table(path: str = TABLE) -> dict:
    return json.load(open(path))


def bucket_name(account: str, region: str) -> str:
    return f"docai-models-{account}-{region}"


def archive_key(model_id: str, revision: str) -> str:
    return f"models/{model_id}/{revision}/{ARCHIVE}"


def files_digest(files: list[dict]) -> str:
    """One SHA-256 over the table's (path, sha256) pairs, sorted: what the archive's metadata must carry."""
    lines = "".join(f"{f['path']} {f['sha256']}\n" for f in sorted(files, key=lambda f: f["path"]))
    return hashlib.sha256(lines.encode()).hexdigest()


def unrecorded(entry: dict) -> list[str]:
    return [f["path"] for f in entry["files"] if not f.get("sha256")]


def check_staged(s3: Any, account: str, region: str, models: list[str], table: dict | None = None) -> list[str]:
    """Preflight: one refusal per model whose archive is missing or was staged from other files. Read-only."""
    table = table or load_table()
    bucket = bucket_name(account, region)
    problems = []
    for model_id in models:
        entry = table["models"].get(model_id)
        fix = f"python3 scripts/stage_model.py --model {model_id} --bucket {bucket} --region {region}"
        if entry is None:
            problems.append(f"Model artifacts ({model_id}): not in lib/gpu-inference/model-artifacts.json, so the endpoint has no pinned revision or checksums. Fix: add the model "
                            f"with the Hub commit to pin, then {fix} --record, review and commit the checksums, and {fix}")
            continue
        missing = unrecorded(entry)
        if missing:
            problems.append(f"Model artifacts ({model_id}@{entry['revision'][:12]}): no SHA-256 recorded for {', '.join(missing)}, so nothing can verify what the endpoint loads. "
                            f"Fix: {fix} --record (downloads the pinned revision, writes the checksums into lib/gpu-inference/model-artifacts.json for review), commit, then {fix}")
            continue
        key = archive_key(model_id, entry["revision"])
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except Exception as e:
            code = getattr(e, "response", {}).get("Error", {}).get("Code", type(e).__name__)
            if code not in ("404", "NoSuchKey", "NotFound", "403", "AccessDenied", "NoSuchBucket"):
                raise
            problems.append(f"Model artifacts ({model_id}@{entry['revision'][:12]}): s3://{bucket}/{key} is not staged (HeadObject: {code}); the endpoint loads its model from there, "
                            f"with no network access. Fix: {fix}")
            continue
        meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
        want = files_digest(entry["files"])
        if meta.get(META_REVISION) != entry["revision"] or meta.get(META_FILES) != want:
            problems.append(f"Model artifacts ({model_id}@{entry['revision'][:12]}): s3://{bucket}/{key} was staged from other files (revision {meta.get(META_REVISION)!r}, "
                            f"files digest {str(meta.get(META_FILES))[:16]!r}, the table's {want[:16]!r}). Fix: {fix}")
            continue
        print(f"ok   Model artifacts {model_id}@{entry['revision'][:12]} staged at s3://{bucket}/{key} (files digest {want[:16]})")
    return problems
