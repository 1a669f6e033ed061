"""The model gateway: every model call of the read side goes through here.

    guardrail in ─▶ cache? ─▶ budget? ─▶ provider chain (retries + breaker per provider)
      ─▶ fallback: next model ▶ cached answer (even stale) ▶ sources only ─▶ guardrail out

Each step's outcome lands in the result (which the caller writes to its audit record) and in EMF
metrics per workflow: tokens in/out, estimated spend, cache hits, fallbacks, degraded answers,
guardrail blocks, budget rejections, latency per provider.
"""
from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

from docai_shared.errors import PermanentError, TransientError
from docai_shared.gateway.errors import BudgetExceeded, GatewayConfigError, GuardrailUnavailable
from docai_shared.gateway.guardrails import Guardrail, Verdict
from docai_shared.gateway.prompts import PromptStore
from docai_shared.gateway.providers import Completion, ModelSpec, Provider, classify_bedrock, emit_provider_metrics, make_provider
from docai_shared.gateway.resilience import Attempt, CircuitBreaker, Deadline, RetryPolicy, call_with_retries
from docai_shared.gateway.state import BudgetLedger, BudgetLimits, ResponseCache, cache_key, sources_of, worst_case_input_tokens
from docai_shared.observability import Metrics

# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowConfig:
    name: str
    models: tuple[str, ...]
    prompt_version: int
    cache_ttl_s: int  # 0: the cache is off for this workflow (no hits, no cached fallback)
    max_output_tokens: int
    budget: BudgetLimits


@dataclass(frozen=True)
class GatewayConfig:
    table: str
    prompt_prefix: str
    guardrail_id: str | None
    guardrail_version: str | None
    timeout_s: float
    retry: RetryPolicy
    breaker_failures: int
    breaker_open_s: float
    models: dict[str, ModelSpec]
    workflows: dict[str, WorkflowConfig]

    def workflow(self, name: str) -> WorkflowConfig:
        if name not in self.workflows:
            raise GatewayConfigError(f"workflow {name!r} is not configured (gateway.workflows has {', '.join(sorted(self.workflows))})")
        return self.workflows[name]

    @classmethod
    def parse(cls, data: dict, table: str, prompt_prefix: str, guardrail_id: str | None, guardrail_version: str | None) -> "GatewayConfig":
        models = {
            name: ModelSpec(name, m["provider"], m["modelId"], float(m["usdPerMillionInputTokens"]), float(m["usdPerMillionOutputTokens"]), m.get("inferenceComponent"), m.get("invocationId"))
            for name, m in data["models"].items()
        }
        workflows = {}
        for name, w in data["workflows"].items():
            missing = [m for m in w["models"] if m not in models]
            if missing:
                raise GatewayConfigError(f"gateway.workflows.{name}.models names {missing}, which gateway.models does not define")
            b = w.get("budget", {})
            workflows[name] = WorkflowConfig(
                name, tuple(w["models"]), int(w["promptVersion"]), int(w.get("cacheTtlSeconds", 0)), int(w.get("maxOutputTokens", 512)),
                BudgetLimits(int(b.get("dailyTokens", 0)), int(b.get("monthlyTokens", 0)), int(b.get("callerDailyTokens", 0)), float(b.get("dailyUsd", 0)), float(b.get("monthlyUsd", 0))),
            )
        r = data.get("retry", {})
        return cls(
            table, prompt_prefix.rstrip("/"), guardrail_id or None, guardrail_version or None, float(data.get("timeoutSeconds", 20)),
            RetryPolicy(int(r.get("maxAttempts", 3)), r.get("baseDelayMs", 200) / 1000, r.get("maxDelayMs", 2000) / 1000, float(r.get("notReadyWaitSeconds", 0))),
            int(data.get("breaker", {}).get("failureThreshold", 5)), float(data.get("breaker", {}).get("openSeconds", 30)), models, workflows,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "GatewayConfig":
        source: Mapping[str, str] = os.environ if env is None else env
        try:
            return cls.parse(json.loads(source["GATEWAY_CONFIG"]), source["GATEWAY_TABLE"], source["GATEWAY_PROMPT_PREFIX"], source.get("GATEWAY_GUARDRAIL_ID"), source.get("GATEWAY_GUARDRAIL_VERSION"))
        except KeyError as e:
            raise GatewayConfigError(f"environment variable {e.args[0]} is missing: the function must be granted the gateway (ModelGateway.grantUse)") from e


# --- request and result ------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerRequest:
    workflow: str
    question: str
    tier: str
    caller: str
    filters: dict
    passages: Sequence[dict]  # text, chunkId, key, versionId, page, heading, score
    # True when the caller already screened the question with ``screen_question`` (the input
    # guardrail is not applied twice); the question is then the screened one.
    screened: bool = False


@dataclass
class AnswerResult:
    outcome: str  # answered | degraded | blocked
    answer: str | None
    degraded: bool = False
    degradation: str | None = None  # fallback_model | cached_answer | stale_cached_answer | sources_only
    model: str | None = None
    model_id: str | None = None
    prompt_version: int | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    estimated_usd: float = 0.0
    cache: str = "off"  # hit | miss | off
    guardrails: list[dict] = field(default_factory=list)
    attempts: list[dict] = field(default_factory=list)
    latency_ms: dict[str, float] = field(default_factory=dict)
    refusal: str | None = None
    # The question as the model saw it: personal data masked when the input guardrail anonymized it.
    screened_question: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


SOURCES_ONLY = "The answering model is unavailable right now. These passages matched your question; see the sources below."


class _Timer:
    def __init__(self, out: dict[str, float], name: str, clock: Callable[[], float]):
        self.out, self.name, self.clock = out, name, clock

    def __enter__(self) -> None:
        self.start = self.clock()

    def __exit__(self, *exc: Any) -> None:
        self.out[self.name] = round(self.out.get(self.name, 0.0) + (self.clock() - self.start) * 1000, 1)


class ModelGateway:
    def __init__(
        self,
        config: GatewayConfig,
        clients: Callable[[str], Any],
        metrics_stream: Any = None,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        breakers: dict[str, CircuitBreaker] | None = None,  # default: this gateway's own, one per model
    ):
        self.config, self.clients, self.metrics_stream = config, clients, metrics_stream
        self.now, self.clock, self.sleep = now, clock, sleep
        self.breakers = {} if breakers is None else breakers
        ddb = clients("dynamodb")
        self.budgets = BudgetLedger(ddb, config.table)
        self.cache = ResponseCache(ddb, config.table)
        self.prompts = PromptStore(clients("ssm"))
        self.guardrail: Guardrail | None = None
        if config.guardrail_id:
            if not config.guardrail_version:
                raise GatewayConfigError(f"guardrail {config.guardrail_id} has no version (GATEWAY_GUARDRAIL_VERSION): ModelGateway sets both")
            self.guardrail = Guardrail(clients("bedrock-runtime"), config.guardrail_id, config.guardrail_version)
        self._providers: dict[str, Provider] = {}

    def provider(self, name: str) -> Provider:
        if name not in self._providers:
            self._providers[name] = make_provider(self.config.models[name], self.clients)
        return self._providers[name]

    def breaker(self, name: str) -> CircuitBreaker:
        if name not in self.breakers:
            self.breakers[name] = CircuitBreaker(name, self.config.breaker_failures, self.config.breaker_open_s, self.clock)
        return self.breakers[name]

    # --- the answer path ---

    def answer(self, request: AnswerRequest, deadline: Deadline | None = None) -> AnswerResult:
        wf = self.config.workflow(request.workflow)
        deadline = deadline or Deadline.after(self.config.timeout_s, self.clock)
        metrics = Metrics(request.workflow, self.metrics_stream)
        metrics.add("ModelRequests", 1)
        result = AnswerResult("answered", None, prompt_version=wf.prompt_version)
        t = lambda name: _Timer(result.latency_ms, name, self.clock)  # noqa: E731
        try:
            return self._answer(request, wf, deadline, result, metrics, t)
        except (BudgetExceeded, GuardrailUnavailable) as e:
            e.result = result  # what the caller's audit record needs: verdicts, attempts, the screened question
            raise
        finally:
            metrics.properties.update({"outcome": result.outcome, "degradation": result.degradation, "model": result.model, "promptVersion": result.prompt_version})
            metrics.flush()

    def _answer(self, request: AnswerRequest, wf: WorkflowConfig, deadline: Deadline, result: AnswerResult, metrics: Metrics, t: Callable[[str], _Timer]) -> AnswerResult:
        question = request.question
        # 1. Guardrail on the question (the retrieved passages are data, delimited in the prompt).
        if self.guardrail and not request.screened:
            with t("guardrailIn"):
                verdict = self._screen("INPUT", question, deadline, result)
            if verdict.blocked:
                metrics.add("GuardrailBlocks", 1)
                result.outcome, result.refusal = "blocked", verdict.message or "Your question was blocked by the content policy."
                return result
            question = verdict.text or question
        result.screened_question = question

        with t("prompt"):
            template = self.prompts.get(f"{self.config.prompt_prefix}/{wf.name}", wf.prompt_version)
        system, user = template.render(question, request.passages)
        primary = self.config.models[wf.models[0]]
        key = cache_key(question, request.tier, request.filters, wf.prompt_version, primary.model_id)
        sources = sources_of(request.passages)

        # 2. Cache.
        if wf.cache_ttl_s > 0:
            with t("cache"):
                cached = self.cache.get(key, request.tier, self.now(), sources)
            if cached:
                metrics.add("CacheHits", 1)
                result.cache, result.answer, result.model, result.model_id = "hit", cached["answer"], cached.get("model"), cached.get("modelId")
                return result
            metrics.add("CacheMisses", 1)
            result.cache = "miss"

        # 3. Budget: reserve the worst case of the primary model; settle to the real use.
        estimate_in = worst_case_input_tokens(system, user)
        worst_usd = max(self.config.models[m].cost_usd(estimate_in, wf.max_output_tokens) for m in wf.models)
        with t("budget"):
            try:
                reservation = self.budgets.reserve(wf.name, request.caller, wf.budget, estimate_in + wf.max_output_tokens, worst_usd, self.now())
            except BudgetExceeded:
                metrics.add("BudgetRejections", 1)
                result.outcome = "budget_exceeded"
                raise

        # 4. The provider chain.
        completion: Completion | None = None
        used: ModelSpec | None = None  # set together with completion
        for index, name in enumerate(wf.models):
            provider = self.provider(name)
            attempts: list[Attempt] = []
            started = self.clock()
            try:
                completion = call_with_retries(name, functools.partial(provider.complete, system, user, wf.max_output_tokens), self.config.retry, self.breaker(name), deadline, attempts, self.sleep, clock=self.clock)
                used = provider.spec
            except (TransientError, PermanentError):
                completion = None
            finally:
                result.attempts += [asdict(a) for a in attempts]
                result.latency_ms[f"model:{name}"] = round((self.clock() - started) * 1000, 1)
                emit_provider_metrics(self.metrics_stream, request.workflow, name, (self.clock() - started) * 1000, completion is not None)
            if completion is not None:
                if index > 0:
                    result.degraded, result.degradation = True, "fallback_model"
                    metrics.add("Fallbacks", 1)
                break

        with t("budget"):
            if completion is None:
                self.budgets.release(reservation)
            else:
                assert used is not None
                tokens_in, tokens_out = completion.tokens_in, completion.tokens_out
                if tokens_in <= 0:
                    # No usage reported: the reservation is the best known bound, charged in full.
                    metrics.add("UsageUnreported", 1)
                    tokens_in, tokens_out = estimate_in, wf.max_output_tokens
                cost = used.cost_usd(tokens_in, tokens_out)
                settled = self.budgets.settle(reservation, tokens_in + tokens_out, cost)
                percent = settled.percent
                if settled.overshoot_tokens > 0 or settled.overshoot_usd > 0:
                    metrics.add("BudgetOvershootTokens", settled.overshoot_tokens)
                    metrics.add("BudgetOvershootUsd", settled.overshoot_usd, "None")
                result.tokens_in, result.tokens_out, result.estimated_usd = tokens_in, tokens_out, round(cost, 8)
                metrics.add("TokensIn", tokens_in)
                metrics.add("TokensOut", tokens_out)
                metrics.add("EstimatedSpendUsd", cost, "None")
                workflow_percent = [v for k, v in percent.items() if k.startswith("workflow/")]
                if workflow_percent:
                    metrics.add("BudgetUsedPercent", max(workflow_percent), "Percent")

        # 5. Every model failed: a cached answer (even an expired one), else the sources alone.
        if completion is None:
            metrics.add("Degraded", 1)
            result.outcome, result.degraded = "degraded", True
            cached = None
            if wf.cache_ttl_s > 0:
                with t("cache"):
                    cached = self.cache.get(key, request.tier, self.now(), sources, stale_ok=True)
            if cached:
                result.degradation = "stale_cached_answer" if cached.get("stale") else "cached_answer"
                result.answer, result.model, result.model_id = cached["answer"], cached.get("model"), cached.get("modelId")
            else:
                result.degradation, result.answer = "sources_only", SOURCES_ONLY if request.passages else None
            return result

        assert used is not None
        result.model, result.model_id, answer = used.name, used.model_id, completion.text
        # 6. Guardrail on the answer: personal data masked, blocked content refused.
        if self.guardrail:
            with t("guardrailOut"):
                verdict = self._screen("OUTPUT", answer, deadline, result)
            if verdict.blocked:
                metrics.add("GuardrailBlocks", 1)
                result.outcome, result.refusal, result.answer = "blocked", verdict.message or "The answer was withheld by the content policy.", None
                return result
            answer = verdict.text or answer
        result.answer = answer
        if result.degraded:
            result.outcome = "degraded"
        elif wf.cache_ttl_s > 0:
            with t("cache"):
                self.cache.put(key, request.tier, {"answer": answer, "model": used.name, "modelId": used.model_id, "promptVersion": wf.prompt_version}, sources, wf.cache_ttl_s, self.now())
        return result

    def screen_question(self, workflow: str, question: str, deadline: Deadline | None = None) -> tuple[Verdict | None, AnswerResult]:
        """The input guardrail alone (for a search, which calls no model): the verdict, and a result
        holding what the audit record needs (verdicts, attempts, latency). No guardrail: (None, result)."""
        result = AnswerResult("answered", None)
        if not self.guardrail:
            return None, result
        metrics = Metrics(workflow, self.metrics_stream)
        try:
            with _Timer(result.latency_ms, "guardrailIn", self.clock):
                verdict = self._screen("INPUT", question, deadline or Deadline.after(self.config.timeout_s, self.clock), result)
        except GuardrailUnavailable as e:
            e.result = result
            raise
        if verdict.blocked:
            metrics.add("GuardrailBlocks", 1)
            result.outcome, result.refusal = "blocked", verdict.message or "Your question was blocked by the content policy."
        result.screened_question = verdict.text or question
        metrics.flush()
        return verdict, result

    def _screen(self, source: str, text: str, deadline: Deadline, result: AnswerResult) -> Verdict:
        attempts: list[Attempt] = []
        try:
            verdict = call_with_retries(f"guardrail:{source}", lambda: self._apply(source, text), self.config.retry, self.breaker("guardrail"), deadline, attempts, self.sleep, clock=self.clock)
        except (TransientError, PermanentError) as e:
            result.attempts += [asdict(a) for a in attempts]
            result.guardrails.append({"source": source, "action": "UNAVAILABLE", "blocked": True, "findings": []})
            raise GuardrailUnavailable(f"the {source.lower()} guardrail could not be applied: {e}") from e
        result.attempts += [asdict(a) for a in attempts]
        result.guardrails.append(verdict.as_dict())
        return verdict

    def _apply(self, source: str, text: str) -> Verdict:
        try:
            return self.guardrail.apply(source, text)  # type: ignore[union-attr]
        except Exception as e:
            raise classify_bedrock(e) from e

