"""The id Converse is called with is the one the stage config hands over (lib/model-gateway/model-gateway.ts
picks the bare model id in-region, the cross-region inference profile id elsewhere), never re-derived here."""
import json

import boto3
from botocore.stub import Stubber

from docai_shared.gateway.gateway import GatewayConfig
from docai_shared.gateway.providers import make_provider

ANSWER = {"output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}}, "stopReason": "end_turn",
          "usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4}, "metrics": {"latencyMs": 1}}


def converse_model_id(model: dict) -> str:
    config = {"models": {"m": model}, "workflows": {"answer": {"models": ["m"], "promptVersion": 1, "cacheTtlSeconds": 0, "maxOutputTokens": 16,
              "budget": {"dailyTokens": 0, "monthlyTokens": 0, "callerDailyTokens": 0, "dailyUsd": 0, "monthlyUsd": 0}}},
              "timeoutSeconds": 5, "retry": {"maxAttempts": 1, "baseDelayMs": 1, "maxDelayMs": 1, "notReadyWaitSeconds": 0}, "breaker": {"failureThreshold": 3, "openSeconds": 30}}
    spec = GatewayConfig.parse(json.loads(json.dumps(config)), "t", "/p", None, None).models["m"]
    runtime = boto3.client("bedrock-runtime", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    seen = []
    with Stubber(runtime) as stub:
        stub.add_response("converse", ANSWER)
        runtime.meta.events.register("provide-client-params.bedrock-runtime.Converse", lambda params, **_: seen.append(params["modelId"]))
        make_provider(spec, lambda _service: runtime).complete("system", "user", 16)
    return seen[0]


def test_the_inference_profile_id_from_the_config_is_what_converse_is_called_with():
    model = {"provider": "bedrock", "modelId": "amazon.nova-lite-v1:0", "invocationId": "eu.amazon.nova-lite-v1:0", "usdPerMillionInputTokens": 0.06, "usdPerMillionOutputTokens": 0.24}
    assert converse_model_id(model) == "eu.amazon.nova-lite-v1:0"


def test_without_an_invocation_id_the_model_id_is_called():
    model = {"provider": "bedrock", "modelId": "amazon.nova-lite-v1:0", "usdPerMillionInputTokens": 0.06, "usdPerMillionOutputTokens": 0.24}
    assert converse_model_id(model) == "amazon.nova-lite-v1:0"
