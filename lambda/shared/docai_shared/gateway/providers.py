"""Model providers behind one interface.

- ``SageMakerLmiProvider``: this project's own generation endpoint (SageMaker Large Model Inference
  container), chat-completions schema over ``InvokeEndpoint``
  (https://docs.djl.ai/master/docs/serving/serving/docs/lmi/user_guides/chat_input_output_schema.html).
- ``BedrockConverseProvider``: Amazon Bedrock through the ``Converse`` API, the same request for every
  model (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html); IAM
  authorizes it as ``bedrock:InvokeModel`` on the foundation model.
- Embeddings: ``docai_shared.embeddings.EmbeddingClient`` (TEI on SageMaker), wrapped by the gateway.

Each provider turns its service's errors into this project's named errors (``docai_shared.errors``),
so retries and fallback treat every provider alike.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Protocol

from docai_shared.embeddings import classify as classify_sagemaker
from docai_shared.errors import EndpointNotReady, PermanentError, Throttled, TransientError
from docai_shared.observability import emf_line


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the stage config's ``gateway.models``."""

    name: str
    provider: str  # "sagemaker-lmi" | "bedrock"
    model_id: str  # Bedrock model id, or the LMI endpoint's name
    usd_per_million_input: float
    usd_per_million_output: float
    inference_component: str | None = None
    # What Converse is called with: the bare id in-region, else the cross-region inference profile id
    # (chosen per region by lib/model-gateway/model-gateway.ts from lib/config/model-catalog.ts).
    invocation_id: str | None = None

    def cost_usd(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.usd_per_million_input + tokens_out * self.usd_per_million_output) / 1_000_000


@dataclass(frozen=True)
class Completion:
    text: str
    tokens_in: int
    tokens_out: int
    stop_reason: str | None = None


class Provider(Protocol):
    spec: ModelSpec

    def complete(self, system: str, user: str, max_tokens: int) -> Completion: ...


def emit_provider_metrics(stream: Any, workflow: str, provider: str, latency_ms: float, ok: bool, extra: dict | None = None) -> None:
    """One EMF line per model call, dimensions Workflow and Provider: latency, error, and (``extra``)
    metered tokens and spend. The same metrics for every provider, embeddings included."""
    metrics = {"ProviderLatencyMs": (round(latency_ms, 1), "Milliseconds"), "ProviderErrors": (0 if ok else 1, "Count"), **(extra or {})}
    (stream or sys.stdout).write(emf_line(metrics, {"Workflow": workflow, "Provider": provider}) + "\n")


def client_config(timeout_s: float) -> Any:
    """botocore config for model calls: our own retries only (botocore's would multiply them), a
    read timeout per call so a slow model cannot hold the request past its deadline."""
    from botocore.config import Config

    return Config(connect_timeout=min(3.0, timeout_s), read_timeout=timeout_s, retries={"total_max_attempts": 1, "mode": "standard"})


def _body(response: dict) -> bytes:
    body = response["Body"]
    return body.read() if hasattr(body, "read") else body


class SageMakerLmiProvider:
    def __init__(self, spec: ModelSpec, runtime: Any):
        self.spec, self.runtime = spec, runtime

    def complete(self, system: str, user: str, max_tokens: int) -> Completion:
        request = {
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "max_tokens": max_tokens,
            "temperature": 0,
        }
        kwargs = {"EndpointName": self.spec.model_id, "ContentType": "application/json", "Accept": "application/json", "Body": json.dumps(request).encode()}
        if self.spec.inference_component:
            kwargs["InferenceComponentName"] = self.spec.inference_component
        try:
            response = self.runtime.invoke_endpoint(**kwargs)
        except Exception as e:
            raise classify_sagemaker(e) from e
        try:
            data = json.loads(_body(response))
            choice = data["choices"][0]
            usage = data.get("usage") or {}
            return Completion(str(choice["message"]["content"]), int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), choice.get("finish_reason"))
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise TransientError(f"{self.spec.name}: the endpoint's answer is not a chat completion: {e}") from e


# Bedrock runtime error codes (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors).
_BEDROCK_RETRYABLE = {"InternalServerException", "ModelTimeoutException", "ServiceException", "ModelErrorException"}
_BEDROCK_NOT_READY = {"ServiceUnavailableException", "ModelNotReadyException"}
_BEDROCK_THROTTLED = {"ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"}


def classify_bedrock(error: Exception) -> Exception:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return TransientError(f"{type(error).__name__}: {error}")  # timeouts, connection errors
    code = response.get("Error", {}).get("Code", "")
    message = f"{code}: {response.get('Error', {}).get('Message', '')}"
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if code in _BEDROCK_THROTTLED or status == 429:
        return Throttled(message)
    if code in _BEDROCK_NOT_READY or status == 503:
        return EndpointNotReady(message)
    if code in _BEDROCK_RETRYABLE or status >= 500:
        return TransientError(message)
    # AccessDeniedException (model access not granted), ValidationException, ResourceNotFoundException:
    # the same request cannot succeed; the chain moves on to the next model.
    return PermanentError(message)


class BedrockConverseProvider:
    def __init__(self, spec: ModelSpec, runtime: Any):
        self.spec, self.runtime = spec, runtime

    def complete(self, system: str, user: str, max_tokens: int) -> Completion:
        try:
            response = self.runtime.converse(
                modelId=self.spec.invocation_id or self.spec.model_id,
                system=[{"text": system}],
                messages=[{"role": "user", "content": [{"text": user}]}],
                inferenceConfig={"maxTokens": max_tokens, "temperature": 0},
            )
        except Exception as e:
            raise classify_bedrock(e) from e
        try:
            text = "".join(block.get("text", "") for block in response["output"]["message"]["content"])
            usage = response.get("usage") or {}
            return Completion(text, int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0)), response.get("stopReason"))
        except (KeyError, TypeError) as e:
            raise TransientError(f"{self.spec.name}: Converse answered without a message: {e}") from e


def make_provider(spec: ModelSpec, clients: Any) -> Provider:
    """``clients(service)`` returns a boto3 client for ``sagemaker-runtime`` or ``bedrock-runtime``."""
    if spec.provider == "sagemaker-lmi":
        return SageMakerLmiProvider(spec, clients("sagemaker-runtime"))
    if spec.provider == "bedrock":
        return BedrockConverseProvider(spec, clients("bedrock-runtime"))
    raise ValueError(f"model {spec.name}: provider must be sagemaker-lmi or bedrock, received {spec.provider!r}")

