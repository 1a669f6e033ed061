"""The query service: everything the query handler does, built from typed settings and injected
clients, so a test (or the load server) builds its own and nothing survives between two of them.

``POST /query`` answers a question with citations through the model gateway; ``POST /search``
returns the ranked chunks.

1. The caller's tier comes from the verified identity, never from the request: the groups of the
   Cognito token API Gateway verified, mapped to tiers by TIER_GROUPS; the highest tier applies; no
   mapped group -> 403 (the record still names the verified principal).
2. The body is checked before anything else reads it (content type, size, nesting, characters,
   types): every refusal is a 4xx naming the field and the limit.
3. The question is screened by the input guardrail first (attacks refused, personal data masked),
   so only the screened question is embedded, sent to a model or kept in the audit trail.
4. The question is embedded and the retrieve function searches as that tier's database role
   (row-level security decides what is visible); it derives the tier again from the token it is
   handed (retrieve_handler.py), so this function's word alone raises no tier. ``/query``: the gateway answers from those
   passages; a cached answer is served only when it was built from passages this retrieval returned.
   A database that is resuming from auto-pause is waited for within this request's deadline (what
   remains of the function's time, less the answer's share); past it: 503 ``database_resuming`` with
   Retry-After, never a raw error (docai_shared.db, "connections").
5. Every request that reached the handler leaves one audit record (``AuditRecord``, the columns of
   ``audit_columns.json``, a copy of lib/query-api/audit-columns.json) and EMF metrics.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import traceback
import unicodedata
import uuid
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone
from typing import Any, Callable

from docai_shared import contract
from docai_shared.embeddings import EmbeddingClient
from docai_shared.errors import DatabaseResuming, EndpointNotReady, TransientError
from docai_shared.gateway import AnswerRequest, BudgetExceeded, Deadline, GatewayConfig, GuardrailUnavailable, ModelGateway
from docai_shared.gateway.embeddings import MeteredEmbedder
from docai_shared.gateway.providers import client_config
from docai_shared.gateway.resilience import CircuitBreaker, RetryPolicy, call_with_retries
from docai_shared.observability import Logger, Metrics

TIERS = contract.ACCESS_TIERS
FILTER_FIELDS = {"documentType": "document_type", "dateFrom": "date_from", "dateTo": "date_to"}
# Limits of a request body (README, "Query API"): the largest valid body is about 2.3 KB.
MAX_QUESTION_CHARS = contract.MAX_QUESTION_CHARS  # the API model refuses longer ones first (lib/query-api)
MAX_BODY_BYTES = 16 * 1024
MAX_JSON_DEPTH = 3  # the body object, filters, and one more level for a clear "wrong type" answer
MAX_FILTER_CHARS = 100
# Characters a question may carry beyond printable text: line breaks and tabs.
QUESTION_WHITESPACE = "\t\n\r"

log = Logger("query")
# Seconds kept for the audit record and the response after retrieval.
AUDIT_RESERVE_S = 2.0


class HttpError(Exception):
    # Who was refused, when the identity was verified (a 403 names them in the audit record).
    principal: str | None = None
    groups: list[str] | None = None

    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def body(self) -> dict:
        return {"error": self.code, "message": self.message, **self.extra}


class SettingsError(ValueError):
    """The function's environment is incomplete: names the variable."""


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuerySettings:
    embedding_endpoint: str
    embedding_inference_component: str | None
    embedding_dimension: int
    retrieve_function: str
    audit_bucket: str
    tier_groups: dict
    iam_caller_tier: str | None = None
    default_top_k: int = 6
    max_top_k: int = 20
    model_timeout_s: float = 10.0
    embedding_usd_per_million_tokens: float = 0.0

    @classmethod
    def from_env(cls, env: Any = None) -> "QuerySettings":
        env = os.environ if env is None else env

        def need(name: str) -> str:
            if not env.get(name):
                raise SettingsError(f"environment variable {name} is missing: the QueryApi construct sets it on the query function")
            return env[name]

        return cls(
            need("EMBEDDING_ENDPOINT"), env.get("EMBEDDING_INFERENCE_COMPONENT") or None, int(need("EMBEDDING_DIMENSION")), need("RETRIEVE_FUNCTION"),
            need("AUDIT_BUCKET"), json.loads(env.get("TIER_GROUPS") or "{}"), env.get("IAM_CALLER_TIER") if env.get("IAM_CALLER_TIER") in TIERS else None,
            int(env.get("DEFAULT_TOP_K", "6")), int(env.get("MAX_TOP_K", "20")), float(env.get("MODEL_TIMEOUT_SECONDS", "10")),
            float(env.get("EMBEDDING_USD_PER_MILLION_TOKENS") or 0),
        )


# --- the audit record --------------------------------------------------------------------------

_COLUMNS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "audit_columns.json")
AUDIT_COLUMNS: list[dict] = json.load(open(_COLUMNS_FILE))["columns"]


@dataclass
class AuditRecord:
    """One request, as written to the audit bucket. Field names are the record's JSON keys; their
    lower-cased names and order are the Glue table's columns (checked at import, below)."""

    requestId: str
    time: str
    workflow: str
    principal: str | None = None
    tier: str | None = None
    groups: list = field(default_factory=list)
    question: str | None = None  # the screened question; None when it could not be screened
    questionSha256: str | None = None
    filters: dict = field(default_factory=dict)
    topK: int | None = None
    retrieved: list = field(default_factory=list)
    promptVersion: int | None = None
    model: str | None = None
    modelId: str | None = None
    tokensIn: int = 0
    tokensOut: int = 0
    estimatedUsd: float = 0.0
    cache: str | None = None
    guardrails: list = field(default_factory=list)
    attempts: list = field(default_factory=list)
    answer: str | None = None
    degraded: bool = False
    degradation: str | None = None
    outcome: str | None = None
    status: int | None = None
    latencyMs: dict = field(default_factory=dict)
    sourceIp: str | None = None

    def keep_question(self, question: str | None) -> None:
        self.question = question
        self.questionSha256 = hashlib.sha256(question.encode("utf-8")).hexdigest() if question is not None else None

    def as_json(self) -> bytes:
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)}, default=str).encode()


if [f.name.lower() for f in fields(AuditRecord)] != [c["name"] for c in AUDIT_COLUMNS]:
    raise RuntimeError(f"AuditRecord's fields differ from {_COLUMNS_FILE} (the Glue table's columns): change both together")


# --- identity ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    principal: str
    tier: str
    groups: list
    # The verified ID token (Cognito), passed on to the retrieve function, which derives the tier
    # from it again; None for IAM callers (their tier is fixed in the retrieve function).
    token: str | None = None


class AmbiguousToken(ValueError):
    """More than one Authorization value reached the function: which one the authorizer verified
    cannot be told, so none is read."""


def _authorization_token(headers: dict, multi_value_headers: dict | None = None) -> str | None:
    """The one token in the Authorization header (without "Bearer "), or None; AmbiguousToken for two."""
    values = [v for k, v in (headers or {}).items() if k.lower() == "authorization"]
    for k, vs in (multi_value_headers or {}).items():
        if k.lower() == "authorization" and isinstance(vs, list):
            values.extend(vs)
    if len(set(map(str, values))) > 1:
        raise AmbiguousToken("more than one Authorization value")
    value = values[0] if values else None
    if not isinstance(value, str):
        return None
    return (value.split(" ", 1)[1] if value.lower().startswith("bearer ") else value).strip()


def _token_payload(headers: dict, multi_value_headers: dict | None = None) -> dict | None:
    """The payload of the token in the Authorization header: the token the Cognito authorizer
    verified (its identity source is that header), so its signature needs no second check here.
    A request carrying two Authorization values (two headers, or two spellings of the name) could
    pair a verified token with a forged one of the same subject: refused (AmbiguousToken)."""
    token = _authorization_token(headers, multi_value_headers)
    if token is None:
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    return payload if isinstance(payload, dict) else None


def verified_groups(claims: dict, headers: dict, multi_value_headers: dict | None = None) -> list[str] | None:
    """The caller's groups, whole names, or None when they cannot be read unambiguously.

    A REST API's Cognito authorizer passes every claim as a string (the authorizer's claims are a
    string-to-string map: https://docs.aws.amazon.com/apigateway/latest/api/API_TestInvokeAuthorizer.html,
    ``claims``), so the ``cognito:groups`` list arrives flattened (reported as "a,b"; HTTP APIs give
    "[a b]"; tests/fixtures/apigw-rest-cognito-event.json). Group names may contain commas, brackets
    and other punctuation (GroupName pattern ``[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+``:
    https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateGroup.html), so no split of that string can tell the group
    "x,docai-tier-restricted" from two groups. The token itself carries the list as a JSON array: it
    is read from the verified token, whose subject must be the authorizer's. A claim that already is a
    list (a direct invocation, a JSON array string) is taken as it is."""
    try:
        payload = _token_payload(headers, multi_value_headers)
    except AmbiguousToken:
        return None
    if payload is not None:
        if str(payload.get("sub")) != str(claims.get("sub")):
            return None  # not the token the authorizer verified
        raw = payload.get("cognito:groups", [])
    else:
        raw = claims.get("cognito:groups")
        if raw is None or raw == "":
            return []
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                return None  # a flattened string without its token: ambiguous, so no tier from it
    if not isinstance(raw, list) or not all(isinstance(g, str) for g in raw):
        return None
    return list(raw)


def caller_identity(event: dict, settings: QuerySettings) -> Identity:
    """The verified principal and its tier. Raises 401 (no verified identity) or 403 (no tier); a 403
    carries the principal so its audit record names who was refused."""
    ctx = event.get("requestContext") or {}
    claims = (ctx.get("authorizer") or {}).get("claims") or {}
    mapping: dict = settings.tier_groups
    if claims:
        principal = claims.get("sub") or claims.get("cognito:username")
        groups = verified_groups(claims, event.get("headers") or {}, event.get("multiValueHeaders"))
        if groups is None:
            e = HttpError(403, "groups_unreadable", "Your verified token's group list could not be read, so no access tier applies. Sign in again; if it persists, "
                          "ask an administrator to check your groups.", missing="a readable cognito:groups list in the verified token")
            e.principal = principal
            raise e
    elif (ctx.get("identity") or {}).get("userArn"):
        # IAM authorization (service callers, SigV4 verified by API Gateway): one tier for all of them,
        # IAM_CALLER_TIER (set by the construct with authorization 'iam'); none set, no access.
        principal = ctx["identity"]["userArn"]
        groups = ["iam"] if settings.iam_caller_tier else []
        mapping = {"iam": settings.iam_caller_tier}
    else:
        raise HttpError(401, "unauthenticated", "No verified identity reached the handler: the API must authorize every method")
    tiers = [mapping[g] for g in groups if g in mapping and mapping[g] in TIERS]
    if not principal or not tiers:
        e = HttpError(403, "no_tier", "Your verified identity is in no access-tier group, so there is nothing you may read. Ask an administrator to add you to the group of your tier.",
                      missing="membership of an access-tier group")
        e.principal, e.groups = principal, groups
        raise e
    token = None
    if claims:
        try:
            token = _authorization_token(event.get("headers") or {}, event.get("multiValueHeaders"))
        except AmbiguousToken:
            token = None
    return Identity(str(principal), max(tiers, key=TIERS.index), groups, token)


# --- request hygiene ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryRequest:
    question: str
    k: int
    filters: dict


def _header(event: dict, name: str) -> str | None:
    return next((v for k, v in (event.get("headers") or {}).items() if k.lower() == name), None)


def _depth_exceeds(text: str, limit: int) -> bool:
    """True when arrays/objects nest deeper than ``limit`` (checked before parsing: a deep body
    would otherwise exhaust the parser's recursion)."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _no_duplicates(pairs: list) -> dict:
    out = {}
    for k, v in pairs:
        if k in out:
            raise HttpError(400, "duplicate_field", f"Field {k!r} appears twice; send each field once", field=str(k).encode("unicode_escape").decode())
        out[k] = v
    return out


def _bad_character(text: str, allowed: str = "") -> str | None:
    """Describes the first character a field may not carry, or None."""
    for i, ch in enumerate(text):
        if "\ud800" <= ch <= "\udfff":
            return f"a lone surrogate (U+{ord(ch):04X}) at position {i}: send valid UTF-16/UTF-8 text"
        if ch == "\x00":
            return f"a NUL character at position {i}"
        if unicodedata.category(ch) == "Cc" and ch not in allowed:
            return f"a control character (U+{ord(ch):04X}) at position {i}"
    return None


def _check_strings(value: Any, path: str) -> None:
    """Keys and values of any depth: no lone surrogates, NUL or control characters (a question may
    carry line breaks and tabs)."""
    if isinstance(value, dict):
        for k, v in value.items():
            name = f"{path}.{k}" if path else str(k)
            problem = _bad_character(str(k))
            if problem:
                raise HttpError(400, "invalid_characters", f"A field name contains {problem}", field=(path or "body"))
            _check_strings(v, name)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_strings(v, f"{path}[{i}]")
    elif isinstance(value, str):
        problem = _bad_character(value, QUESTION_WHITESPACE if path == "question" else "")
        if problem:
            raise HttpError(400, "invalid_characters", f"{path} contains {problem}", field=path)


def _visible(text: str) -> bool:
    return any(not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf", "Zs", "Zl", "Zp") for ch in text)


def parse_request(event: dict, settings: QuerySettings) -> QueryRequest:
    """Validates the request again (API Gateway validates the body against its JSON schema only for
    application/json): every refusal is a 4xx naming the field and the limit."""
    content_type = (_header(event, "content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HttpError(415, "unsupported_media_type", f"Content-Type must be application/json, received {content_type or 'none'!r}", field="Content-Type")
    raw = event.get("body")
    if raw is None or raw == "":
        raise HttpError(400, "invalid_json", "The body is empty: send {\"question\": \"...\"}", field="body")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise HttpError(400, "invalid_json", "The body is not UTF-8 JSON", field="body") from None
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise HttpError(413, "body_too_large", f"The body is larger than {MAX_BODY_BYTES} bytes; a question has at most {MAX_QUESTION_CHARS} characters", field="body", limit=MAX_BODY_BYTES)
    if _depth_exceeds(raw, MAX_JSON_DEPTH):
        raise HttpError(400, "too_deeply_nested", f"The body nests objects or arrays deeper than {MAX_JSON_DEPTH} levels", field="body", limit=MAX_JSON_DEPTH)
    try:
        body = json.loads(raw, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        raise HttpError(400, "invalid_json", "The body is not JSON: send {\"question\": \"...\"}", field="body") from None
    if not isinstance(body, dict):
        raise HttpError(400, "invalid_body", "The body must be a JSON object", field="body")
    _check_strings(body, "")
    unknown = sorted(set(body) - {"question", "topK", "filters"})
    if unknown:
        raise HttpError(400, "unknown_field", f"Unknown field {unknown[0]!r}; fields: question, topK, filters", field=unknown[0])
    q = body.get("question")
    if not isinstance(q, str) or not _visible(q) or len(q) > MAX_QUESTION_CHARS:
        raise HttpError(400, "invalid_field", f"question must be a string with visible text and at most {MAX_QUESTION_CHARS} characters", field="question", limit=MAX_QUESTION_CHARS)
    k = body.get("topK", settings.default_top_k)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= settings.max_top_k:
        raise HttpError(400, "invalid_field", f"topK must be a whole number from 1 to {settings.max_top_k}, received {json.dumps(k)[:40]}", field="topK")
    raw_filters = body.get("filters", {})
    if not isinstance(raw_filters, dict):
        raise HttpError(400, "invalid_field", f"filters must be an object like {{\"documentType\": \"invoice\"}}, received {type(raw_filters).__name__ if raw_filters is not None else 'null'}", field="filters")
    filters: dict = {}
    for name, value in raw_filters.items():
        if name not in FILTER_FIELDS:
            raise HttpError(400, "unknown_field", f"Unknown filter {name!r}; filters: {', '.join(FILTER_FIELDS)}", field=f"filters.{name}")
        if name.startswith("date"):
            if not isinstance(value, str) or len(value) != 10:
                raise HttpError(400, "invalid_field", f"filters.{name} must be an ISO date string like \"2026-11-22\", received {json.dumps(value)[:40]}", field=f"filters.{name}") from None
            try:
                date.fromisoformat(value)
            except ValueError:
                raise HttpError(400, "invalid_field", f"filters.{name} must be an ISO date string like \"2026-11-22\", received {json.dumps(value)[:40]}", field=f"filters.{name}") from None
        elif not isinstance(value, str) or not _visible(value) or len(value) > MAX_FILTER_CHARS:
            raise HttpError(400, "invalid_field", f"filters.{name} must be a string of 1-{MAX_FILTER_CHARS} characters", field=f"filters.{name}", limit=MAX_FILTER_CHARS)
        filters[FILTER_FIELDS[name]] = value
    if "date_from" in filters and "date_to" in filters and filters["date_from"] > filters["date_to"]:
        raise HttpError(400, "invalid_field", f"filters.dateFrom ({filters['date_from']}) is after filters.dateTo ({filters['date_to']})", field="filters.dateFrom")
    return QueryRequest(q.strip(), k, filters)


# --- the service -------------------------------------------------------------------------------


def boto3_clients(model_timeout_s: float) -> Callable[[str], Any]:
    """boto3 clients made on first use and kept by the service that holds this function."""
    made: dict[str, Any] = {}

    def clients(service: str) -> Any:
        if service not in made:
            import boto3

            kwargs: dict = {}
            if service in ("sagemaker-runtime", "bedrock-runtime"):
                kwargs["config"] = client_config(model_timeout_s)
            made[service] = boto3.client(service, **kwargs)
        return made[service]

    return clients


def _timed(latency: dict, name: str, fn: Callable[[], Any]) -> Any:
    started = time.monotonic()
    try:
        return fn()
    finally:
        latency[name] = round((time.monotonic() - started) * 1000, 1)


class QueryService:
    def __init__(self, settings: QuerySettings, clients: Callable[[str], Any], gateway: ModelGateway | None = None,
                 gateway_config: GatewayConfig | None = None, metrics_stream: Any = None):
        self.settings, self.clients, self.metrics_stream = settings, clients, metrics_stream
        self._gateway = gateway
        self._gateway_config = gateway_config
        self.embed_retry = RetryPolicy(max_attempts=3, base_delay_s=0.1, max_delay_s=1.0)
        self.embed_breaker = CircuitBreaker("embedding", failure_threshold=5, open_s=30)

    @classmethod
    def from_env(cls, clients: Callable[[str], Any] | None = None, env: Any = None) -> "QueryService":
        settings = QuerySettings.from_env(env)
        return cls(settings, clients or boto3_clients(settings.model_timeout_s), gateway_config=GatewayConfig.from_env(env))

    @property
    def gateway(self) -> ModelGateway:
        if self._gateway is None:
            self._gateway = ModelGateway(self._gateway_config or GatewayConfig.from_env(), self.clients, self.metrics_stream)
        return self._gateway

    # --- steps ---

    def embed_question(self, question: str, attempts: list, workflow: str) -> list[float]:
        """The question's vector from the embedding endpoint, with the gateway's retry policy and a breaker
        (throttling and 5xx are retried; a scaling-from-zero endpoint is not waited for here)."""
        s = self.settings
        embedder = MeteredEmbedder(EmbeddingClient(self.clients("sagemaker-runtime"), s.embedding_endpoint, s.embedding_inference_component, s.embedding_dimension),
                                   workflow, s.embedding_usd_per_million_tokens, self.metrics_stream)
        return call_with_retries("embedding", lambda: embedder.embed([question])[0], self.embed_retry, self.embed_breaker, Deadline.after(8), attempts)

    def retrieve(self, tier: str, embedding: list[float], k: int, filters: dict, token: str | None = None,
                 connect_wait_s: float | None = None, workflow: str | None = None) -> list[dict]:
        # The retrieve function derives the tier from the token itself; ``tier`` must agree with it.
        # ``workflow`` only labels its VectorSearches metric.
        event: dict[str, Any] = {"tier": tier, "token": token, "workflow": workflow, "embedding": embedding, "k": k, "filters": filters}
        if connect_wait_s is not None:
            event["connectWaitSeconds"] = round(connect_wait_s, 1)
        out = self.clients("lambda").invoke(FunctionName=self.settings.retrieve_function, InvocationType="RequestResponse", Payload=json.dumps(event).encode())
        result = json.loads(out["Payload"].read())
        if out.get("FunctionError"):
            raise TransientError(f"retrieval failed: {result.get('errorType')}: {result.get('errorMessage')}")
        if isinstance(result.get("databaseResuming"), dict):
            after = result["databaseResuming"].get("retryAfterSeconds")
            raise DatabaseResuming("the document database is resuming from auto-pause", int(after) if isinstance(after, int) and 0 < after <= 300 else 15)
        return result["hits"]

    def connect_wait_s(self, context: Any, workflow: str) -> float | None:
        """How long retrieval may wait for a resuming database: what remains of this invocation, less the
        audit write and, for an answer, the model's time. None without a Lambda context (the retrieve
        function's default then applies)."""
        if not (context and hasattr(context, "get_remaining_time_in_millis")):
            return None
        reserve = AUDIT_RESERVE_S + (self.gateway.config.timeout_s if workflow == "answer" else 0.0)
        return max(1.0, context.get_remaining_time_in_millis() / 1000 - reserve)

    def write_audit(self, record: AuditRecord) -> str:
        key = f"audit/dt={record.time[:10]}/{record.requestId}.json"
        # Object Lock buckets need an integrity checksum on every write (S3 API: PutObject with Object Lock).
        self.clients("s3").put_object(Bucket=self.settings.audit_bucket, Key=key, Body=record.as_json(), ContentType="application/json", ChecksumAlgorithm="SHA256")
        return key

    # --- one request ---

    def handle(self, event: dict, context: Any = None) -> dict:
        started = time.monotonic()
        path = (event.get("resource") or event.get("path") or "").rstrip("/")
        workflow = "answer" if path.endswith("/query") else "search"
        request_id = ((event.get("requestContext") or {}).get("requestId")) or str(uuid.uuid4())
        metrics = Metrics(workflow, self.metrics_stream)
        metrics.add("Requests", 1)
        record = AuditRecord(request_id, datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), workflow,
                             sourceIp=((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp"))
        latency = record.latencyMs
        body: dict[str, Any]
        headers: dict[str, str]
        status, body, headers = 500, {"error": "internal", "message": "Internal error; the request id identifies it in the logs"}, {}
        try:
            status, body = self._serve(event, context, workflow, request_id, record, metrics)
        except HttpError as e:
            status, body = e.status, {"requestId": request_id, **e.body()}
            if "retryAfterSeconds" in e.extra:
                headers["Retry-After"] = str(e.extra["retryAfterSeconds"])
            record.outcome = e.code
            if getattr(e, "principal", None) and record.principal is None:
                record.principal, record.groups = str(e.principal), list(getattr(e, "groups", None) or [])
        except BudgetExceeded as e:
            self._partial(record, e)
            status, body = 429, {"requestId": request_id, "error": "budget_exceeded", "message": str(e), "budget": e.as_dict()}
            headers["Retry-After"] = str(max(1, int((datetime.fromisoformat(e.resets_at.replace("Z", "+00:00")) - datetime.now(timezone.utc)).total_seconds())))
            record.outcome = "budget_exceeded"
        except GuardrailUnavailable as e:
            self._partial(record, e)
            status, body = 503, {"requestId": request_id, "error": "guardrail_unavailable", "message": "The content screening service is unavailable; the question was not answered. Retry shortly.",
                                 "retryAfterSeconds": 30}
            headers["Retry-After"] = "30"
            record.outcome = "guardrail_unavailable"
            log.error("guardrail unavailable", requestId=request_id, error=str(e))
        except Exception as e:  # unexpected: 500, recorded, the audit record still written
            log.error("request failed", requestId=request_id, error=f"{type(e).__name__}: {e}", trace=traceback.format_exc()[-3000:])
            record.outcome = "error"
        latency["total"] = round((time.monotonic() - started) * 1000, 1)
        record.status = status
        try:
            audit_started = time.monotonic()
            self.write_audit(record)
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
        return {"statusCode": status, "headers": {"Content-Type": "application/json", "X-Request-Id": request_id, **headers}, "body": json.dumps(body, default=str)}

    @staticmethod
    def _partial(record: AuditRecord, error: Exception) -> None:
        result = getattr(error, "result", None)
        if result is not None:
            record.guardrails = record.guardrails + [g for g in result.guardrails if g not in record.guardrails]
            record.attempts = record.attempts + list(result.attempts)

    def _serve(self, event: dict, context: Any, workflow: str, request_id: str, record: AuditRecord, metrics: Metrics) -> tuple[int, dict]:
        latency = record.latencyMs
        identity = caller_identity(event, self.settings)
        record.principal, record.tier, record.groups = identity.principal, identity.tier, identity.groups
        req = parse_request(event, self.settings)
        record.filters, record.topK = req.filters, req.k
        gw = self.gateway

        # The input guardrail first: only the screened question goes further, into the record too.
        try:
            verdict, screened = _timed(latency, "guardrail", lambda: gw.screen_question(workflow, req.question))
        except GuardrailUnavailable:
            record.keep_question(None)  # never screened: not kept
            raise
        record.guardrails, record.attempts = list(screened.guardrails), list(screened.attempts)
        if screened.outcome == "blocked":
            # A blocked question never got its masked form (a guardrail stops at the first blocking
            # policy), so it is not kept; the verdict's findings say why it was refused.
            record.keep_question(None)
            raise HttpError(422, "blocked_by_guardrail", screened.refusal or "Your question was blocked by the content policy.")
        question = screened.screened_question or req.question
        record.keep_question(question)

        embed_attempts: list = []
        try:
            vector = _timed(latency, "embed", lambda: self.embed_question(question, embed_attempts, workflow))
        except EndpointNotReady as e:
            raise HttpError(503, "warming_up", "The search model is starting (it scales to zero when idle); retry in about 5 minutes.", retryAfterSeconds=300) from e
        except TransientError as e:
            raise HttpError(503, "search_unavailable", "The search model is not answering; retry in a minute.", retryAfterSeconds=60) from e
        finally:
            record.attempts = record.attempts + [a.__dict__ for a in embed_attempts]
        wait = self.connect_wait_s(context, workflow)
        try:
            hits = _timed(latency, "retrieve", lambda: self.retrieve(identity.tier, vector, req.k, req.filters, identity.token, wait, workflow))
        except DatabaseResuming as e:
            log.warning("database resuming", requestId=request_id, retryAfterSeconds=e.retry_after_s)
            raise HttpError(503, "database_resuming", f"The document database is resuming after a pause (it pauses when idle); retry in {e.retry_after_s} seconds.",
                            retryAfterSeconds=e.retry_after_s) from e
        except TransientError as e:
            log.error("retrieval failed", requestId=request_id, error=str(e))
            raise HttpError(503, "search_unavailable", "The document search is not answering; retry in a minute.", retryAfterSeconds=60) from e
        record.retrieved = [{"chunkId": h["chunkId"], "key": h["key"], "versionId": h["versionId"], "score": h["score"], "tier": h["tier"]} for h in hits]
        citations = [{"index": i, "key": h["key"], "versionId": h["versionId"], "page": h["page"], "heading": h["heading"], "score": h["score"]} for i, h in enumerate(hits, start=1)]
        if workflow == "search":
            record.outcome = "answered"
            return 200, {"requestId": request_id, "results": [{**c, "text": h["text"]} for c, h in zip(citations, hits, strict=True)]}

        remaining = (context.get_remaining_time_in_millis() / 1000 - 2) if context and hasattr(context, "get_remaining_time_in_millis") else gw.config.timeout_s
        deadline = Deadline.after(min(gw.config.timeout_s, max(1.0, remaining)))
        result = _timed(latency, "generate", lambda: gw.answer(AnswerRequest("answer", question, identity.tier, identity.principal, req.filters, hits, screened=True), deadline))
        record.promptVersion, record.model, record.modelId = result.prompt_version, result.model, result.model_id
        record.tokensIn, record.tokensOut, record.estimatedUsd, record.cache = result.tokens_in, result.tokens_out, result.estimated_usd, result.cache
        record.guardrails = record.guardrails + result.guardrails
        record.attempts = record.attempts + result.attempts
        record.answer, record.degraded, record.degradation, record.outcome = result.answer, result.degraded, result.degradation, result.outcome
        latency.update({f"gateway.{k}": v for k, v in result.latency_ms.items()})
        if result.degraded:
            metrics.add("DegradedAnswers", 1)
        if result.outcome == "blocked":
            return 422, {"requestId": request_id, "error": "blocked_by_guardrail", "message": result.refusal, "promptVersion": result.prompt_version}
        return 200, {"requestId": request_id, "answer": result.answer, "degraded": result.degraded, "degradation": result.degradation,
                     "citations": citations, "model": result.model, "promptVersion": result.prompt_version, "cache": result.cache}
