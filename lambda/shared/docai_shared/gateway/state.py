"""The gateway's shared state in one DynamoDB table (on demand, KMS, point-in-time recovery):
token budgets and the response cache.

Items (partition key ``pk``, TTL attribute ``expiresAt``):
- ``budget#<workflow>#<scope>#<period>``: ``tokens`` and ``usdMicros`` used in that period, for scopes
  ``workflow/day``, ``workflow/month`` and ``caller/day`` (``caller:<principal>``);
- ``cache#<sha256>``: one cached answer.

Budgets are counted with one ``TransactWriteItems`` of conditional ``ADD`` updates: either every
budget has room and all are charged, or none is (no check-then-write race between concurrent
requests; https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html).
A request reserves its worst case before the model call (the prompt's UTF-8 bytes, which no
byte-level tokenizer exceeds, plus a small framing allowance, plus the max output tokens the provider
enforces) and settles to the use the provider reports afterwards. Settling down needs no condition;
use above the reservation (a provider counting more than the bound) is added under the budget's
condition, and when that fails it is still recorded (it was spent) and reported as overshoot, so a
ledger can exceed its limit only by what one request used beyond its own reservation.

The response cache records what each answer was built from (the passages' chunk ids, document
versions and a hash of their text): ``ResponseCache.get`` serves an entry only when those sources
are among the passages the caller has just retrieved as its own reader role (see ``sources_of``).
"""
from __future__ import annotations

import calendar
import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from docai_shared.gateway.errors import BudgetExceeded

USD_MICROS = 1_000_000


@dataclass(frozen=True)
class BudgetLimits:
    """Limits of one workflow; 0 means no limit of that kind."""

    daily_tokens: int = 0
    monthly_tokens: int = 0
    caller_daily_tokens: int = 0
    daily_usd: float = 0.0
    monthly_usd: float = 0.0


@dataclass(frozen=True)
class _Scope:
    name: str  # workflow/day | workflow/month | caller/day
    pk: str
    token_limit: int
    usd_limit_micros: int
    resets_at: datetime


@dataclass
class Reservation:
    workflow: str
    scopes: tuple[_Scope, ...]
    tokens: int
    usd_micros: int


@dataclass
class Settlement:
    percent: dict = field(default_factory=dict)  # "<scope>/<unit>" -> percent of the limit used
    overshoot_tokens: int = 0  # tokens recorded beyond a limit (0: none)
    overshoot_usd: float = 0.0


# Converse and chat templates add a few tokens of framing (roles, turn markers) to the texts.
FRAMING_TOKENS = 32


def worst_case_input_tokens(*texts: str) -> int:
    """An upper bound of the input tokens of a prompt: byte-level BPE tokenizers emit at most one token
    per UTF-8 byte (characters / 3 undercounts CJK text, digits and code several times over)."""
    return sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) + FRAMING_TOKENS


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class BudgetLedger:
    def __init__(self, ddb: Any, table: str):
        self.ddb, self.table = ddb, table

    def scopes(self, workflow: str, caller: str, limits: BudgetLimits, now: datetime) -> tuple[_Scope, ...]:
        now = now.astimezone(timezone.utc)
        day_end = datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)
        month_end = datetime(now.year, now.month, calendar.monthrange(now.year, now.month)[1], tzinfo=timezone.utc) + timedelta(days=1)
        day, month = now.strftime("%Y-%m-%d"), now.strftime("%Y-%m")
        micros = lambda usd: int(round(usd * USD_MICROS))  # noqa: E731
        out = [
            _Scope("workflow/day", f"budget#{workflow}#workflow#{day}", limits.daily_tokens, micros(limits.daily_usd), day_end),
            _Scope("workflow/month", f"budget#{workflow}#workflow#{month}", limits.monthly_tokens, micros(limits.monthly_usd), month_end),
            _Scope("caller/day", f"budget#{workflow}#caller:{caller}#{day}", limits.caller_daily_tokens, 0, day_end),
        ]
        # A scope without any limit is still counted (usage per caller is what the owner asks about).
        return tuple(out)

    def reserve(self, workflow: str, caller: str, limits: BudgetLimits, tokens: int, usd: float, now: datetime) -> Reservation:
        scopes = self.scopes(workflow, caller, limits, now)
        usd_micros = int(round(usd * USD_MICROS))
        for s in scopes:  # a request larger than the whole budget can never fit
            if s.token_limit and tokens > s.token_limit:
                raise BudgetExceeded(workflow, s.name, "tokens", s.token_limit, 0, _iso(s.resets_at))
        items = []
        for s in scopes:
            conditions, values = [], {":t": {"N": str(tokens)}, ":u": {"N": str(usd_micros)}, ":exp": {"N": str(int(s.resets_at.timestamp()) + 35 * 86400)}}
            if s.token_limit:
                conditions.append("(attribute_not_exists(tokens) OR tokens <= :tmax)")
                values[":tmax"] = {"N": str(s.token_limit - tokens)}
            if s.usd_limit_micros:
                conditions.append("(attribute_not_exists(usdMicros) OR usdMicros <= :umax)")
                values[":umax"] = {"N": str(s.usd_limit_micros - usd_micros)}
            update = {
                "TableName": self.table,
                "Key": {"pk": {"S": s.pk}},
                "UpdateExpression": "ADD tokens :t, usdMicros :u SET expiresAt = if_not_exists(expiresAt, :exp)",
                "ExpressionAttributeValues": values,
            }
            if conditions:
                update["ConditionExpression"] = " AND ".join(conditions)
            items.append({"Update": update})
        try:
            self.ddb.transact_write_items(TransactItems=items)
        except Exception as e:
            if getattr(e, "response", {}).get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = getattr(e, "response", {}).get("CancellationReasons") or []
            failed = [i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"] or list(range(len(scopes)))
            raise self._exceeded(workflow, [scopes[i] for i in failed], tokens, usd_micros) from e
        return Reservation(workflow, scopes, tokens, usd_micros)

    def _exceeded(self, workflow: str, candidates: Sequence[_Scope], tokens: int, usd_micros: int) -> BudgetExceeded:
        for s in candidates:
            used_tokens, used_micros = self.used(s.pk)
            if s.token_limit and used_tokens + tokens > s.token_limit:
                return BudgetExceeded(workflow, s.name, "tokens", s.token_limit, used_tokens, _iso(s.resets_at))
            if s.usd_limit_micros and used_micros + usd_micros > s.usd_limit_micros:
                return BudgetExceeded(workflow, s.name, "usd", s.usd_limit_micros / USD_MICROS, used_micros / USD_MICROS, _iso(s.resets_at))
        s = candidates[0]  # raced with a settle that freed room: still report the scope that refused
        used_tokens, _ = self.used(s.pk)
        return BudgetExceeded(workflow, s.name, "tokens", s.token_limit, used_tokens, _iso(s.resets_at))

    def used(self, pk: str) -> tuple[int, int]:
        item = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item") or {}
        return int(item.get("tokens", {}).get("N", 0)), int(item.get("usdMicros", {}).get("N", 0))

    def settle(self, reservation: Reservation, tokens: int, usd: float) -> Settlement:
        """Replaces the reservation by the real use; returns the percent used of each limited scope and
        any overshoot (use recorded beyond a limit because it exceeded the reservation)."""
        dt, du = tokens - reservation.tokens, int(round(usd * USD_MICROS)) - reservation.usd_micros
        out = Settlement()
        for s in reservation.scopes:
            update: dict[str, Any] = {
                "TableName": self.table, "Key": {"pk": {"S": s.pk}}, "UpdateExpression": "ADD tokens :t, usdMicros :u",
                "ExpressionAttributeValues": {":t": {"N": str(dt)}, ":u": {"N": str(du)}}, "ReturnValues": "UPDATED_NEW",
            }
            conditions = []
            if dt > 0 and s.token_limit:
                conditions.append("(attribute_not_exists(tokens) OR tokens <= :tmax)")
                update["ExpressionAttributeValues"][":tmax"] = {"N": str(s.token_limit - dt)}
            if du > 0 and s.usd_limit_micros:
                conditions.append("(attribute_not_exists(usdMicros) OR usdMicros <= :umax)")
                update["ExpressionAttributeValues"][":umax"] = {"N": str(s.usd_limit_micros - du)}
            if conditions:
                update["ConditionExpression"] = " AND ".join(conditions)
            try:
                attrs = self.ddb.update_item(**update).get("Attributes", {})
            except Exception as e:
                if getattr(e, "response", {}).get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                # Spent is spent: the ledger keeps the truth and the overshoot is reported, not hidden.
                update.pop("ConditionExpression")
                for k in (":tmax", ":umax"):
                    update["ExpressionAttributeValues"].pop(k, None)
                attrs = self.ddb.update_item(**update).get("Attributes", {})
            used_tokens, used_micros = int(attrs.get("tokens", {}).get("N", 0)), int(attrs.get("usdMicros", {}).get("N", 0))
            if s.token_limit:
                out.percent[f"{s.name}/tokens"] = 100.0 * used_tokens / s.token_limit
                out.overshoot_tokens = max(out.overshoot_tokens, used_tokens - s.token_limit)
            if s.usd_limit_micros:
                out.percent[f"{s.name}/usd"] = 100.0 * used_micros / s.usd_limit_micros
                out.overshoot_usd = max(out.overshoot_usd, (used_micros - s.usd_limit_micros) / USD_MICROS)
        return out

    def release(self, reservation: Reservation) -> None:
        self.settle(reservation, 0, 0.0)


# --- response cache ----------------------------------------------------------------------------

def normalise_question(question: str) -> str:
    """Same question, same key: Unicode NFKC, case-folded, whitespace collapsed, trailing ?!. dropped."""
    text = " ".join(unicodedata.normalize("NFKC", question).casefold().split())
    return text.rstrip(" ?!.")


def sources_of(passages: Sequence[dict]) -> list[str]:
    """What an answer was built from, one entry per passage: chunk id (or key), document version and
    a hash of the text the model saw. The same entry means the same text from the same version."""
    out = []
    for p in passages:
        text = str(p.get("text", ""))
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        out.append(f"{p.get('chunkId') or p.get('key', '')}@{p.get('versionId') or p.get('version') or ''}#{digest}")
    return sorted(out)


def cache_key(question: str, tier: str, filters: dict, prompt_version: int, model: str) -> str:
    material = json.dumps({"q": normalise_question(question), "tier": tier, "filters": filters, "prompt": prompt_version, "model": model}, sort_keys=True, default=str)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class ResponseCache:
    """Answers by key; an answer is served only to the tier it was made for (the tier is part of the
    key and checked again on read) and only while what it was built from is still what the caller
    retrieves: ``current`` are the sources (``sources_of``) of the passages the caller's reader role
    retrieved for this request. A hit needs the same sources (the answer a model would be given the
    same text for); the degraded fallback (``stale_ok``, also expired items DynamoDB has not removed
    yet) needs every source of the entry among them. A re-tiered, deleted or re-indexed document
    changes or drops its sources, so its text is never served from the cache to a caller who can no
    longer retrieve it: no invalidation from the write side is needed, and none can be missed."""

    def __init__(self, ddb: Any, table: str):
        self.ddb, self.table = ddb, table

    def get(self, key: str, tier: str, now: datetime, current: Sequence[str], stale_ok: bool = False) -> dict | None:
        item = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": f"cache#{key}"}}).get("Item")
        if not item or item.get("tier", {}).get("S") != tier:
            return None
        fresh = int(item["expiresAt"]["N"]) > now.timestamp()
        if not fresh and not stale_ok:
            return None
        built_from = item.get("sources", {}).get("L")
        if built_from is None:  # an entry that does not say what it cites cannot be checked: never served
            return None
        built_from = sorted(s["S"] for s in built_from)
        if not (set(built_from) <= set(current) if stale_ok else built_from == sorted(current)):
            return None
        value = json.loads(item["value"]["S"])
        value["stale"] = not fresh
        value["sources"] = built_from
        return value

    def put(self, key: str, tier: str, value: dict, sources: Sequence[str], ttl_s: int, now: datetime) -> None:
        self.ddb.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"cache#{key}"},
                "tier": {"S": tier},
                "value": {"S": json.dumps(value, default=str)},
                "sources": {"L": [{"S": s} for s in sorted(sources)]},
                "createdAt": {"S": _iso(now)},
                "expiresAt": {"N": str(int(now.timestamp()) + int(ttl_s))},
            },
        )

