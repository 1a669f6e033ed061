"""CloudFormation custom resource: the user pool's signing keys (JWKS), fetched when the stack deploys
and handed to the retrieve function's environment (Fn::GetAtt Jwks). The retrieve function runs in
isolated subnets with no route to the pool's public ``/.well-known/jwks.json``
(https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html);
this function runs outside the VPC for that one HTTPS GET and calls no AWS API.

A key the pool starts signing with after the deploy is unknown to the retrieve function: it then
refuses those tokens (fails closed, 503) until the next deploy fetches the keys again.

Properties: JwksUrl. Data: Jwks (the RSA signing keys, compact JSON).
"""
from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable
from typing import Any

from docai_shared.observability import Logger

log = Logger("jwks")
# Only a Cognito user pool's key set, so the property cannot point the function anywhere else.
JWKS_URL = re.compile(r"^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[\w-]+_[0-9A-Za-z]+/\.well-known/jwks\.json$")
# Custom resource Data is limited to 4,096 bytes; a pool's two RSA-2048 keys take about 1 KB.
MAX_DATA_BYTES = 4096


def signing_keys(document: bytes) -> str:
    """The RS256 signing keys of a JWKS document, as compact JSON; ValueError when there are none."""
    keys = [{k: key[k] for k in ("kid", "kty", "alg", "use", "n", "e") if k in key}
            for key in json.loads(document).get("keys", []) if key.get("kty") == "RSA" and key.get("alg", "RS256") == "RS256" and key.get("use", "sig") == "sig"]
    if not keys:
        raise ValueError("the JWKS document holds no RS256 signing key")
    text = json.dumps({"keys": keys}, separators=(",", ":"))
    if len(text) > MAX_DATA_BYTES - 64:
        raise ValueError(f"the signing keys take {len(text)} bytes; a custom resource returns at most {MAX_DATA_BYTES}")
    return text


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read(64 * 1024)


def _put(url: str, body: bytes) -> None:
    req = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))})
    with urllib.request.urlopen(req, timeout=10):
        pass


def handler(event: dict, context: Any = None, get: Callable[[str], bytes] = _get, put: Callable[[str, bytes], None] = _put) -> dict:
    url = (event.get("ResourceProperties") or {}).get("JwksUrl", "")
    response: dict[str, Any] = {"Status": "SUCCESS", "PhysicalResourceId": event.get("PhysicalResourceId") or url or "jwks", "StackId": event.get("StackId"),
                "RequestId": event.get("RequestId"), "LogicalResourceId": event.get("LogicalResourceId"), "Data": {}}
    try:
        if event.get("RequestType") in ("Create", "Update"):
            if not JWKS_URL.match(url):
                raise ValueError(f"JwksUrl {url[:200]!r} is not a Cognito user pool's jwks.json")
            response["Data"] = {"Jwks": signing_keys(get(url))}
            response["PhysicalResourceId"] = url
    except Exception as e:  # the deploy fails with the reason, instead of waiting for a timeout
        log.error("jwks fetch failed", error=f"{type(e).__name__}: {e}")
        response.update(Status="FAILED", Reason=f"{type(e).__name__}: {e}"[:500])
    put(event["ResponseURL"], json.dumps(response).encode())
    return response
