"""Embedding client for a SageMaker endpoint serving Hugging Face Text Embeddings Inference (TEI).

Request (TEI ``/embed`` through SageMaker ``InvokeEndpoint``): ``{"inputs": [text, ...], "truncate": true}``
with ``ContentType: application/json``; response: a JSON list with one vector (list of floats) per
input, in order. Endpoints that host inference components (the scale-to-zero mode) need the component
name on every call.

Errors are classified so Step Functions can route them:
- ``EndpointNotReady`` (transient): no capacity yet (scaling out from zero takes minutes), model
  loading, endpoint updating, 503;
- ``Throttled`` (transient): throttling, 429;
- ``TransientError``: other 5xx and network failures;
- ``PermanentError``: 4xx validation errors (bad input, payload too large, unknown endpoint): retrying
  the same request cannot succeed.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from docai_shared.errors import EndpointNotReady, PermanentError, Throttled, TransientError

_NOT_READY_HINTS = ("no capacity", "not ready", "is not in service", "is being updated", "is updating", "being created", "scaling")


def batches(items: Sequence[Any], size: int) -> list[list[Any]]:
    if size < 1:
        raise ValueError(f"batch size must be at least 1, received {size}")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def build_request(texts: Sequence[str]) -> bytes:
    return json.dumps({"inputs": list(texts), "truncate": True}).encode("utf-8")


def parse_response(body: bytes, expected: int, dimension: int | None = None) -> list[list[float]]:
    try:
        data = json.loads(body)
    except ValueError as e:
        raise TransientError(f"endpoint returned a body that is not JSON: {body[:200]!r}") from e
    if isinstance(data, dict) and "embeddings" in data:  # some containers wrap the list
        data = data["embeddings"]
    if not isinstance(data, list) or len(data) != expected or not all(isinstance(v, list) for v in data):
        raise PermanentError(f"endpoint returned {type(data).__name__} of length {len(data) if isinstance(data, list) else '-'}, expected {expected} vectors")
    if dimension is not None:
        bad = [len(v) for v in data if len(v) != dimension]
        if bad:
            raise PermanentError(f"endpoint returned vectors of dimension {bad[0]}, the database expects {dimension}: model and configuration disagree")
    return [[float(x) for x in v] for v in data]


def classify(error: Exception) -> Exception:
    """Maps a botocore ClientError (or other failure) from InvokeEndpoint to a named error."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return TransientError(f"{type(error).__name__}: {error}")
    code = response.get("Error", {}).get("Code", "")
    message = response.get("Error", {}).get("Message", "") or str(error)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    original = response.get("OriginalStatusCode")  # ModelError: the container's own status
    text = f"{code}: {message}"
    lowered = message.lower()
    if code in ("ModelNotReadyException", "ServiceUnavailable", "ServiceUnavailableException") or status == 503:
        return EndpointNotReady(text)
    if code == "ValidationError" and any(h in lowered for h in _NOT_READY_HINTS):
        return EndpointNotReady(text)
    if code in ("ThrottlingException", "Throttling", "TooManyRequestsException") or status == 429 or original == 429:
        return Throttled(text)
    if code == "ModelError":
        if original and 400 <= int(original) < 500:
            return PermanentError(f"{text} (container answered {original})")
        return TransientError(text)
    if code in ("InternalFailure", "InternalServerError", "InternalDependencyException") or status >= 500:
        return TransientError(text)
    if 400 <= status < 500 or code == "ValidationError":
        return PermanentError(text)
    return TransientError(text)


class EmbeddingClient:
    def __init__(self, runtime: Any, endpoint_name: str, inference_component: str | None = None, dimension: int | None = None):
        self.runtime = runtime
        self.endpoint_name = endpoint_name
        self.inference_component = inference_component or None
        self.dimension = dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        kwargs = {"EndpointName": self.endpoint_name, "ContentType": "application/json", "Accept": "application/json", "Body": build_request(texts)}
        if self.inference_component:
            kwargs["InferenceComponentName"] = self.inference_component
        try:
            response = self.runtime.invoke_endpoint(**kwargs)
        except Exception as e:
            raise classify(e) from e
        body = response["Body"].read() if hasattr(response["Body"], "read") else response["Body"]
        return parse_response(body, len(texts), self.dimension)

    def embed_batches(self, texts: Sequence[str], batch_size: int) -> list[list[float]]:
        out: list[list[float]] = []
        for batch in batches(texts, batch_size):
            out.extend(self.embed(batch))
        return out
