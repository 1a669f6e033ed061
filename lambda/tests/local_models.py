"""A local stand-in for the model services, over HTTP, so boto3 clients talk to it as they would to
AWS (SigV4 signing, error parsing, read timeouts all run): point a client's ``endpoint_url`` here.

Serves:
- SageMaker runtime ``InvokeEndpoint`` (``POST /endpoints/<name>/invocations``): a chat completion
  (LMI schema) when the body has ``messages``, TEI embeddings when it has ``inputs``;
- Bedrock runtime ``Converse`` (``POST /model/<id>/converse``) and ``ApplyGuardrail``
  (``POST /guardrail/<id>/version/<v>/apply``);
- Lambda ``Invoke`` (``POST /2015-03-31/functions/<name>/invocations``) of functions registered in
  ``functions`` (name -> handler), run in-process as the Lambda runtime would run them.

Behaviour per route (``"sagemaker"``, ``"converse"``, ``"guardrail"``): a fixed latency, a random
failure rate, and a script of outcomes consumed first (``"ok"``, ``"throttle"``, ``"unavailable"``,
``"error"``, ``"not_ready"``, ``"denied"``, ``"slow"``). The guardrail stand-in blocks "ignore previous
instructions"-style prompt attacks and masks e-mail addresses; it plays Bedrock's classifier only so
the gateway's handling of verdicts can be tested, it is not a classifier.

Endpoints by name: ``scaled_to_zero`` names endpoints whose inference component has no instance (a
scale-to-zero GPU endpoint outside its window): every call gets SageMaker's "no capacity" error, as
deployed. ``cold_start_s`` gives an endpoint a start-up delay paid by the first call after
``idle_s`` without calls (a serverless endpoint's cold start), so a caller can measure both.

The chat models answer with a quote of the first document (as an answer citing its source would)
and with what they treat as instructions: the system text and the user text outside
``<documents>``, so a test can see whether a document's text reached the instructions, and which
document's text an answer carries.
"""
from __future__ import annotations

import hashlib
import html
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERRORS = {
    "sagemaker": {
        "throttle": (429, "ThrottlingException", "Rate exceeded"),
        "unavailable": (503, "ServiceUnavailable", "Service unavailable"),
        "error": (500, "InternalFailure", "Internal failure"),
        "not_ready": (400, "ValidationError", "Inference Component has no capacity to process this request."),
        "denied": (400, "ValidationError", "Endpoint docai-missing of account 123456789012 not found."),
    },
    "bedrock": {
        "throttle": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
        "unavailable": (503, "ServiceUnavailableException", "Service unavailable"),
        "error": (500, "InternalServerException", "Internal server error"),
        "not_ready": (503, "ServiceUnavailableException", "Model is not ready"),
        "denied": (403, "AccessDeniedException", "You don't have access to the model with the specified model ID."),
    },
}

ATTACK = re.compile(r"ignore (all |any )?(previous|prior|above) instructions|you are now|system prompt", re.I)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@dataclass
class Behaviour:
    latency_s: float = 0.0
    failure_rate: float = 0.0
    failure: str = "error"
    script: list[str] = field(default_factory=list)
    usage_scale: float = 1.0  # the chat models' reported input tokens, scaled (0: no usage reported)

    def next(self, rng: random.Random) -> str:
        if self.script:
            return self.script.pop(0)
        if self.failure_rate and rng.random() < self.failure_rate:
            return self.failure
        return "ok"


def embed(text: str, dimension: int) -> list[float]:
    """Deterministic unit vector from the text's bag of words: similar texts, similar vectors."""
    v = [0.0] * dimension
    for word in re.findall(r"\w+", text.lower()):
        h = int(hashlib.sha256(word.encode()).hexdigest(), 16)
        v[h % dimension] += 1.0 if (h >> 8) % 2 else -1.0
    norm = sum(x * x for x in v) ** 0.5 or 1.0
    return [x / norm for x in v]


# Tokens as a byte-level BPE model counts them, roughly: a word, a digit, a punctuation mark or one
# CJK character each (characters / 3 undercounts the last three several times over).
TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|\d|[^\W\d]+|[^\w\s]")


def tokens(text: str) -> int:
    return len(TOKEN.findall(text))


def cut(text: str, max_tokens: int) -> str:
    """The answer cut at max_tokens, as a provider's maxTokens cuts it."""
    found = list(TOKEN.finditer(text))
    return text if len(found) <= max_tokens else text[:found[max_tokens - 1].end()]


def instructions_seen(system: str, user: str) -> str:
    return system + "\n" + re.sub(r"<documents>.*</documents>", "", user, flags=re.S)


class LocalModels:
    def __init__(self, dimension: int = 768, seed: int = 7, functions: dict | None = None):
        self.dimension = dimension
        self.functions = functions or {}
        self.behaviour = {"sagemaker": Behaviour(), "converse": Behaviour(), "guardrail": Behaviour()}
        self.calls: list[tuple[str, str]] = []
        self.scaled_to_zero: set[str] = set()
        self.cold_start_s: dict[str, float] = {}
        self.idle_s: float = 600.0
        self._last_call: dict[str, float] = {}
        self.rng = random.Random(seed)
        self._lock = threading.Lock()
        models = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY a kept-alive connection waits
            # ~40 ms for the client's delayed ACK on every response (Nagle), which is not the model's time.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                models._serve(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "LocalModels":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self, route: str) -> int:
        return sum(1 for r, _ in self.calls if r == route)

    # --- serving ---

    def _serve(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        path = h.path.split("?")[0]
        if path.startswith("/2015-03-31/functions/"):
            return self._invoke(h, path.split("/")[3], body)
        route = "sagemaker" if path.startswith("/endpoints/") else "guardrail" if path.startswith("/guardrail/") else "converse"
        endpoint = path.split("/")[2] if route == "sagemaker" else ""
        with self._lock:
            self.calls.append((route, path))
            if endpoint in self.scaled_to_zero:
                outcome, latency = "not_ready", 0.0
            else:
                outcome = self.behaviour[route].next(self.rng)
                latency = self.behaviour[route].latency_s + self._cold_start(endpoint)
        if outcome == "slow":
            latency = max(latency, 5.0)
        if latency:
            time.sleep(latency)
        if outcome not in ("ok", "slow"):
            status, code, message = ERRORS["sagemaker" if route == "sagemaker" else "bedrock"][outcome]
            return self._send(h, status, {"message": message, "__type": code}, {"x-amzn-ErrorType": code})
        data = json.loads(body or b"{}")
        if route == "sagemaker" and "inputs" in data:
            return self._send(h, 200, [embed(t, self.dimension) for t in data["inputs"]])
        if route == "sagemaker":
            system = next((m["content"] for m in data["messages"] if m["role"] == "system"), "")
            user = next((m["content"] for m in data["messages"] if m["role"] == "user"), "")
            text = cut(self._answer(system, user, "lmi"), int(data.get("max_tokens") or 4096))
            return self._send(h, 200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                                       "usage": {"prompt_tokens": self._input_tokens("sagemaker", system, user), "completion_tokens": tokens(text)}})
        if route == "converse":
            system = "".join(s.get("text", "") for s in data.get("system", []))
            user = "".join(c.get("text", "") for c in data["messages"][0]["content"])
            text = cut(self._answer(system, user, path.split("/")[2]), int((data.get("inferenceConfig") or {}).get("maxTokens") or 4096))
            usage = {"inputTokens": self._input_tokens("converse", system, user), "outputTokens": tokens(text)}
            return self._send(h, 200, {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": "end_turn",
                                       "usage": {**usage, "totalTokens": usage["inputTokens"] + usage["outputTokens"]}, "metrics": {"latencyMs": 1}})
        return self._send(h, 200, self._guardrail(data))

    def _cold_start(self, endpoint: str) -> float:
        """The start-up delay this call pays (under the lock): the first call after idle_s of silence."""
        if endpoint not in self.cold_start_s:
            return 0.0
        now = time.monotonic()
        last = self._last_call.get(endpoint)
        self._last_call[endpoint] = now
        return self.cold_start_s[endpoint] if last is None or now - last > self.idle_s else 0.0

    def _invoke(self, h: BaseHTTPRequestHandler, name: str, body: bytes) -> None:
        import traceback

        try:
            result = self.functions[name](json.loads(body or b"{}"), None)
            return self._send(h, 200, result)
        except Exception as e:  # as Lambda reports a function error: 200 with X-Amz-Function-Error
            return self._send(h, 200, {"errorType": type(e).__name__, "errorMessage": str(e), "stackTrace": traceback.format_exc().splitlines()[-5:]},
                              {"X-Amz-Function-Error": "Unhandled"})

    def _input_tokens(self, route: str, system: str, user: str) -> int:
        return int((tokens(system) + tokens(user)) * self.behaviour[route].usage_scale)

    def _answer(self, system: str, user: str, model: str) -> str:
        first = re.search(r"<document [^>]*>(.*?)</document>", user, re.S)
        quote = html.unescape(first.group(1))[:160] if first else ""
        return f"[{model}] answer. From the first source: \"{quote}\". Instructions I followed: {instructions_seen(system, user)[-400:]}"

    def _guardrail(self, data: dict) -> dict:
        text = "".join(c["text"]["text"] for c in data["content"])
        assessments, action, outputs = [], "NONE", []
        if data["source"] == "INPUT" and ATTACK.search(text):
            assessments.append({"contentPolicy": {"filters": [{"type": "PROMPT_ATTACK", "confidence": "HIGH", "action": "BLOCKED"}]}})
            return {"action": "GUARDRAIL_INTERVENED", "outputs": [{"text": "Sorry, I can't help with that request."}], "assessments": assessments, "usage": {}}
        if EMAIL.search(text):
            assessments.append({"sensitiveInformationPolicy": {"piiEntities": [{"type": "EMAIL", "match": m, "action": "ANONYMIZED"} for m in EMAIL.findall(text)]}})
            action, outputs = "GUARDRAIL_INTERVENED", [{"text": EMAIL.sub("{EMAIL}", text)}]
        return {"action": action, "outputs": outputs, "assessments": assessments, "usage": {}}

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload, headers: dict | None = None) -> None:
        raw = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        try:
            h.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (read timeout): expected in timeout tests
            pass
