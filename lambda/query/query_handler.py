"""The query API's handler (API Gateway REST, Lambda proxy integration): ``POST /query`` answers a
question with citations through the model gateway; ``POST /search`` returns the ranked chunks.

1. The caller's tier comes from the verified identity, never from the request: the Cognito groups
   in the authorizer's claims, mapped to tiers by TIER_GROUPS (the stage config); the highest tier
   among the caller's groups applies; no mapped group -> 403.
2. The question is embedded with the embedding endpoint (TEI), and the retrieve function searches
   as that tier's database role (row-level security decides what is visible).
3. ``/query``: the model gateway answers (guardrails, cache, budget, fallback); a degraded answer
   says so. Budget exhaustion -> 429 with the budget, the use and the reset time.
4. Every request that reached the handler leaves one audit record (who, tier, question, filters,
   chunks and scores, prompt version, model, tokens, estimated cost, latency per step, guardrail
   verdicts, answer, outcome) in the audit bucket (S3 Object Lock, KMS), and EMF metrics.

Environment: EMBEDDING_ENDPOINT, EMBEDDING_INFERENCE_COMPONENT, EMBEDDING_DIMENSION, RETRIEVE_FUNCTION,
AUDIT_BUCKET, TIER_GROUPS (JSON group -> tier), DEFAULT_TOP_K, MAX_TOP_K, WORKFLOW, GATEWAY_* (ModelGateway).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from datetime import date, datetime, timezone
from typing import Any, Callable

from docai_shared.embeddings import EmbeddingClient
from docai_shared.errors import EndpointNotReady, TransientError
from docai_shared.gateway import AnswerRequest, BudgetExceeded, Deadline, GatewayConfig, GuardrailUnavailable, ModelGateway
from docai_shared.gateway.embeddings import MeteredEmbedder
from docai_shared.gateway.providers import client_config
from docai_shared.gateway.resilience import CircuitBreaker, RetryPolicy, call_with_retries
from docai_shared.observability import Logger, Metrics

TIERS = ("public", "internal", "confidential", "restricted")
FILTER_FIELDS = {"documentType": "document_type", "dateFrom": "date_from", "dateTo": "date_to"}
MAX_QUESTION_CHARS = 2000

_clients: dict[str, Any] = {}
_gateway: ModelGateway | None = None
log = Logger("query")


def client(service: str) -> Any:
    if service not in _clients:
        import boto3

        kwargs: dict = {}
        if service in ("sagemaker-runtime", "bedrock-runtime"):
            kwargs["config"] = client_config(float(os.environ.get("MODEL_TIMEOUT_SECONDS", "10")))
        _clients[service] = boto3.client(service, **kwargs)
    return _clients[service]


def gateway() -> ModelGateway:
    global _gateway
    if _gateway is None:
        _gateway = ModelGateway(GatewayConfig.from_env(), client)
    return _gateway


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def body(self) -> dict:
        return {"error": self.code, "message": self.message, **self.extra}


# --- identity --------------------------------------------------------------------------------

def caller_identity(event: dict) -> tuple[str, str, list[str]]:
    """(principal, tier, groups) from the authorizer's verified claims; never from the body."""
    ctx = event.get("requestContext") or {}
    claims = (ctx.get("authorizer") or {}).get("claims") or {}
    mapping: dict[str, str] = json.loads(os.environ.get("TIER_GROUPS", "{}"))
    if claims:
        principal = claims.get("sub") or claims.get("cognito:username")
        raw = claims.get("cognito:groups") or ""
        groups = [g for g in re.split(r"[\s,\[\]]+", raw if isinstance(raw, str) else " ".join(raw)) if g]
    elif (ctx.get("identity") or {}).get("userArn"):
        # IAM authorization (service callers, SigV4 verified by API Gateway): one tier for all of them,
        # IAM_CALLER_TIER (set by the construct with authorization 'iam'); none set, no access.
        principal = ctx["identity"]["userArn"]
        groups = ["iam"] if os.environ.get("IAM_CALLER_TIER") in TIERS else []
        mapping = {"iam": os.environ.get("IAM_CALLER_TIER", "")}
    else:
        raise HttpError(401, "unauthenticated", "No verified identity reached the handler: the API must authorize every method")
    tiers = [mapping[g] for g in groups if g in mapping]
    if not principal or not tiers:
        raise HttpError(403, "no_tier", "Your identity has no access tier. Ask an administrator to add you to one of the tier groups.", groups=sorted(mapping))
    return str(principal), max(tiers, key=TIERS.index), groups


# --- request ---------------------------------------------------------------------------------

def parse_request(event: dict) -> dict:
    """Validates the body again (API Gateway's JSON schema is the first check): 400 names the field."""
    try:
        body = json.loads(event.get("body") or "")
    except ValueError:
        raise HttpError(400, "invalid_json", "The body is not JSON: send {\"question\": \"...\"}", field="body")
    if not isinstance(body, dict):
        raise HttpError(400, "invalid_body", "The body must be a JSON object", field="body")
    unknown = sorted(set(body) - {"question", "topK", "filters"})
    if unknown:
        raise HttpError(400, "unknown_field", f"Unknown field {unknown[0]!r}; fields: question, topK, filters", field=unknown[0])
    q = body.get("question")
    if not isinstance(q, str) or not q.strip() or len(q) > MAX_QUESTION_CHARS:
        raise HttpError(400, "invalid_field", f"question must be a non-empty string of at most {MAX_QUESTION_CHARS} characters", field="question")
    max_k = int(os.environ.get("MAX_TOP_K", "20"))
    k = body.get("topK", int(os.environ.get("DEFAULT_TOP_K", "6")))
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= max_k:
        raise HttpError(400, "invalid_field", f"topK must be a whole number from 1 to {max_k}, received {k!r}", field="topK")
    raw_filters = body.get("filters") or {}
    if not isinstance(raw_filters, dict):
        raise HttpError(400, "invalid_field", "filters must be an object", field="filters")
    filters = {}
    for name, value in raw_filters.items():
        if name not in FILTER_FIELDS:
            raise HttpError(400, "unknown_field", f"Unknown filter {name!r}; filters: {', '.join(FILTER_FIELDS)}", field=f"filters.{name}")
        if name.startswith("date"):
            try:
                date.fromisoformat(str(value))
            except ValueError:
                raise HttpError(400, "invalid_field", f"filters.{name} must be a date like 2026-11-22, received {value!r}", field=f"filters.{name}")
        elif not isinstance(value, str) or not value or len(value) > 100:
            raise HttpError(400, "invalid_field", f"filters.{name} must be a string of 1-100 characters", field=f"filters.{name}")
        filters[FILTER_FIELDS[name]] = str(value)
    return {"question": q.strip(), "k": k, "filters": filters}


# --- steps -----------------------------------------------------------------------------------

_EMBED_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.1, max_delay_s=1.0)
_EMBED_BREAKER = CircuitBreaker("embedding", failure_threshold=5, open_s=30)


def embed_question(question: str, attempts: list, workflow: str = "search") -> list[float]:
    """The question's vector from the embedding endpoint, with the gateway's retry policy and a breaker
    (throttling and 5xx are retried; a scaling-from-zero endpoint is not waited for here)."""
    embedder = MeteredEmbedder(
        EmbeddingClient(client("sagemaker-runtime"), os.environ["EMBEDDING_ENDPOINT"], os.environ.get("EMBEDDING_INFERENCE_COMPONENT") or None, int(os.environ["EMBEDDING_DIMENSION"])),
        workflow, float(os.environ.get("EMBEDDING_USD_PER_MILLION_TOKENS") or 0),
    )
    return call_with_retries("embedding", lambda: embedder.embed([question])[0], _EMBED_RETRY, _EMBED_BREAKER, Deadline.after(8), attempts)


def retrieve(tier: str, embedding: list[float], k: int, filters: dict) -> list[dict]:
    payload = json.dumps({"tier": tier, "embedding": embedding, "k": k, "filters": filters}).encode()
    out = client("lambda").invoke(FunctionName=os.environ["RETRIEVE_FUNCTION"], InvocationType="RequestResponse", Payload=payload)
    result = json.loads(out["Payload"].read())
    if out.get("FunctionError"):
        raise TransientError(f"retrieval failed: {result.get('errorType')}: {result.get('errorMessage')}")
    return result["hits"]


def write_audit(record: dict) -> str:
    day = record["time"][:10]
    key = f"audit/dt={day}/{record['requestId']}.json"
    body = json.dumps(record, default=str).encode()
    # Object Lock buckets need an integrity checksum on every write (S3 API: PutObject with Object Lock).
    client("s3").put_object(Bucket=os.environ["AUDIT_BUCKET"], Key=key, Body=body, ContentType="application/json", ChecksumAlgorithm="SHA256")
    return key


def _timed(latency: dict, name: str, fn: Callable[[], Any]) -> Any:
    started = time.monotonic()
    try:
        return fn()
    finally:
        latency[name] = round((time.monotonic() - started) * 1000, 1)


def _response(status: int, body: dict, request_id: str, headers: dict | None = None) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json", "X-Request-Id": request_id, **(headers or {})}, "body": json.dumps(body, default=str)}


def handler(event: dict, context: Any = None) -> dict:
    started = time.monotonic()
    path = (event.get("resource") or event.get("path") or "").rstrip("/")
    workflow = "answer" if path.endswith("/query") else "search"
    request_id = ((event.get("requestContext") or {}).get("requestId")) or str(uuid.uuid4())
    latency: dict[str, float] = {}
    metrics = Metrics(workflow)
    metrics.add("Requests", 1)
    audit: dict[str, Any] = {
        "requestId": request_id, "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "workflow": workflow,
        "principal": None, "tier": None, "groups": [], "question": None, "questionSha256": None, "filters": {}, "topK": None,
        "retrieved": [], "promptVersion": None, "model": None, "modelId": None, "tokensIn": 0, "tokensOut": 0, "estimatedUsd": 0.0,
        "cache": None, "guardrails": [], "attempts": [], "answer": None, "degraded": False, "degradation": None, "outcome": None, "status": None,
        "latencyMs": latency, "sourceIp": ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp"),
    }
    status, body, headers = 500, {"error": "internal", "message": "Internal error; the request id identifies it in the logs"}, {}
    try:
        principal, tier, groups = caller_identity(event)
        audit.update(principal=principal, tier=tier, groups=groups)
        req = parse_request(event)
        audit.update(question=req["question"], questionSha256=hashlib.sha256(req["question"].encode()).hexdigest(), filters=req["filters"], topK=req["k"])
        if workflow == "search":
            # A search calls no model, but its question is screened too: blocked attacks are refused,
            # and personal data is masked before it is embedded or kept in the audit trail.
            verdict, screened = _timed(latency, "guardrail", lambda: gateway().screen_question("search", req["question"]))
            audit.update(guardrails=screened.guardrails, attempts=list(screened.attempts))
            if screened.outcome == "blocked":
                raise HttpError(422, "blocked_by_guardrail", screened.refusal or "Your question was blocked by the content policy.")
            if screened.screened_question and screened.screened_question != req["question"]:
                req["question"] = screened.screened_question
                audit.update(question=req["question"], questionSha256=hashlib.sha256(req["question"].encode()).hexdigest())
        embed_attempts: list = []
        try:
            vector = _timed(latency, "embed", lambda: embed_question(req["question"], embed_attempts, workflow))
        except EndpointNotReady:
            raise HttpError(503, "warming_up", "The search model is starting (it scales to zero when idle); retry in about 5 minutes.", retryAfterSeconds=300)
        except TransientError:
            raise HttpError(503, "search_unavailable", "The search model is not answering; retry in a minute.", retryAfterSeconds=60)
        finally:
            audit["attempts"] = audit["attempts"] + [a.__dict__ for a in embed_attempts]
        hits = _timed(latency, "retrieve", lambda: retrieve(tier, vector, req["k"], req["filters"]))
        audit["retrieved"] = [{"chunkId": h["chunkId"], "key": h["key"], "versionId": h["versionId"], "score": h["score"], "tier": h["tier"]} for h in hits]
        citations = [{"index": i, "key": h["key"], "versionId": h["versionId"], "page": h["page"], "heading": h["heading"], "score": h["score"]} for i, h in enumerate(hits, start=1)]
        if workflow == "search":
            status, body = 200, {"requestId": request_id, "results": [{**c, "text": h["text"]} for c, h in zip(citations, hits)]}
            audit["outcome"] = "answered"
        else:
            gw = gateway()
            remaining = (context.get_remaining_time_in_millis() / 1000 - 2) if context and hasattr(context, "get_remaining_time_in_millis") else gw.config.timeout_s
            deadline = Deadline.after(min(gw.config.timeout_s, max(1.0, remaining)))
            result = _timed(latency, "generate", lambda: gw.answer(AnswerRequest("answer", req["question"], tier, principal, req["filters"], hits), deadline))
            if result.screened_question and result.screened_question != req["question"]:
                # Personal data the input guardrail masked is not kept in the locked audit trail either.
                audit.update(question=result.screened_question, questionSha256=hashlib.sha256(result.screened_question.encode()).hexdigest())
            audit.update(promptVersion=result.prompt_version, model=result.model, modelId=result.model_id, tokensIn=result.tokens_in, tokensOut=result.tokens_out,
                         estimatedUsd=result.estimated_usd, cache=result.cache, guardrails=result.guardrails, attempts=audit["attempts"] + result.attempts, answer=result.answer,
                         degraded=result.degraded, degradation=result.degradation, outcome=result.outcome)
            latency.update({f"gateway.{k}": v for k, v in result.latency_ms.items()})
            if result.outcome == "blocked":
                status, body = 422, {"requestId": request_id, "error": "blocked_by_guardrail", "message": result.refusal, "promptVersion": result.prompt_version}
            else:
                status, body = 200, {
                    "requestId": request_id, "answer": result.answer, "degraded": result.degraded, "degradation": result.degradation,
                    "citations": citations, "model": result.model, "promptVersion": result.prompt_version, "cache": result.cache,
                }
            if result.degraded:
                metrics.add("DegradedAnswers", 1)
    except HttpError as e:
        status, body = e.status, {"requestId": request_id, **e.body()}
        if "retryAfterSeconds" in e.extra:
            headers["Retry-After"] = str(e.extra["retryAfterSeconds"])
        audit["outcome"] = e.code
    except BudgetExceeded as e:
        status, body = 429, {"requestId": request_id, "error": "budget_exceeded", "message": str(e), "budget": e.as_dict()}
        headers["Retry-After"] = str(max(1, int((datetime.fromisoformat(e.resets_at.replace("Z", "+00:00")) - datetime.now(timezone.utc)).total_seconds())))
        audit["outcome"] = "budget_exceeded"
    except GuardrailUnavailable as e:
        status, body = 503, {"requestId": request_id, "error": "guardrail_unavailable", "message": "The content screening service is unavailable; the question was not answered. Retry shortly."}
        audit["outcome"] = "guardrail_unavailable"
        log.error("guardrail unavailable", requestId=request_id, error=str(e))
    except Exception as e:  # unexpected: 500, recorded, the audit record still written
        import traceback

        log.error("request failed", requestId=request_id, error=f"{type(e).__name__}: {e}", trace=traceback.format_exc()[-3000:])
        audit["outcome"] = "error"
    latency["total"] = round((time.monotonic() - started) * 1000, 1)
    audit["status"] = status
    try:
        audit_started = time.monotonic()
        write_audit(audit)
        latency["audit"] = round((time.monotonic() - audit_started) * 1000, 1)
    except Exception as e:
        # An answer without its audit record is not given: the record is the promise of this API.
        log.error("audit record not written", requestId=request_id, error=f"{type(e).__name__}: {e}")
        metrics.add("AuditFailures", 1)
        status, body = 500, {"requestId": request_id, "error": "audit_unavailable", "message": "The request could not be recorded, so it was not answered."}
    metrics.add("Errors5xx", 1 if status >= 500 else 0)
    metrics.add("Errors4xx", 1 if 400 <= status < 500 else 0)
    for step, ms in latency.items():
        if not step.startswith("gateway."):
            metrics.add(f"Latency.{step}", ms, "Milliseconds")
    metrics.flush()
    return _response(status, body, request_id, headers)
