"""Input and output screening with Amazon Bedrock Guardrails' ``ApplyGuardrail``, which works for
any model, including this project's SageMaker one
(https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-use-independent-api.html).

The guardrail (created by the ModelGateway construct) filters prompt attacks on input and masks or
blocks personal data. A verdict is "blocked" when any policy's action is BLOCKED; when the guardrail
only anonymized personal data, the masked text is used instead and the request goes on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Verdict:
    source: str  # INPUT | OUTPUT
    action: str  # NONE | GUARDRAIL_INTERVENED | SKIPPED
    blocked: bool = False
    text: str | None = None  # the text to use (masked when personal data was anonymized)
    findings: list[str] = field(default_factory=list)  # e.g. "contentPolicy:PROMPT_ATTACK:BLOCKED"
    message: str | None = None  # the guardrail's configured refusal when blocked

    def as_dict(self) -> dict:
        return {"source": self.source, "action": self.action, "blocked": self.blocked, "findings": self.findings}


def _findings(assessments: list[dict]) -> list[str]:
    out = []
    for a in assessments or []:
        for f in (a.get("contentPolicy") or {}).get("filters", []):
            out.append(f"contentPolicy:{f.get('type')}:{f.get('action')}")
        for t in (a.get("topicPolicy") or {}).get("topics", []):
            out.append(f"topicPolicy:{t.get('name')}:{t.get('action')}")
        for w in (a.get("wordPolicy") or {}).get("customWords", []) + (a.get("wordPolicy") or {}).get("managedWordLists", []):
            out.append(f"wordPolicy:{w.get('type', 'custom')}:{w.get('action')}")
        sip = a.get("sensitiveInformationPolicy") or {}
        for e in sip.get("piiEntities", []):
            out.append(f"sensitiveInformationPolicy:{e.get('type')}:{e.get('action')}")
        for r in sip.get("regexes", []):
            out.append(f"sensitiveInformationPolicy:{r.get('name')}:{r.get('action')}")
    return out


class Guardrail:
    def __init__(self, runtime: Any, guardrail_id: str, version: str):
        self.runtime, self.guardrail_id, self.version = runtime, guardrail_id, version

    def apply(self, source: str, text: str) -> Verdict:
        response = self.runtime.apply_guardrail(
            guardrailIdentifier=self.guardrail_id, guardrailVersion=self.version, source=source, content=[{"text": {"text": text}}]
        )
        action = response.get("action", "NONE")
        findings = _findings(response.get("assessments", []))
        if action != "GUARDRAIL_INTERVENED":
            return Verdict(source, action, False, text, findings)
        outputs = response.get("outputs") or []
        masked = "".join(o.get("text", "") for o in outputs) or None
        blocked = any(f.endswith(":BLOCKED") for f in findings) or not findings
        return Verdict(source, action, blocked, None if blocked else (masked or text), findings, masked if blocked else None)
