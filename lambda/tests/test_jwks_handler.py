"""The JWKS custom resource: what it hands the retrieve function, and that every failure reaches
CloudFormation as FAILED with its reason (a custom resource that never answers holds a deploy for an hour)."""
import json

import jwks_handler
import pytest
from caller_token import TokenVerifier, parse_jwks
from query_env import TOKEN_CLIENT, TOKEN_ISSUER, pool_jwks, signed_token

URL = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json"


def run(request_type, url=URL, document=None, fail=None):
    sent = {}

    def get(u):
        sent["get"] = u
        if fail:
            raise fail
        return document if document is not None else pool_jwks().encode()

    def put(u, body):
        sent["put"] = (u, json.loads(body))

    out = jwks_handler.handler({"RequestType": request_type, "ResourceProperties": {"JwksUrl": url}, "ResponseURL": "https://cfn-response.example/x",
                                "StackId": "s", "RequestId": "r", "LogicalResourceId": "Jwks"}, None, get, put)
    assert sent["put"][1] == out
    return out, sent


def test_create_hands_over_keys_that_verify_the_pools_tokens():
    out, sent = run("Create")
    assert out["Status"] == "SUCCESS" and sent["get"] == URL
    verifier = TokenVerifier(parse_jwks(out["Data"]["Jwks"]), TOKEN_ISSUER, (TOKEN_CLIENT,))
    token = signed_token({"token_use": "id", "iss": TOKEN_ISSUER, "aud": TOKEN_CLIENT, "exp": 4102444800, "cognito:groups": []})
    assert verifier.verify(token)["token_use"] == "id"


@pytest.mark.parametrize("url", ["http://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json",
                                 "https://evil.example/eu-west-1_AbC123/.well-known/jwks.json",
                                 "https://cognito-idp.eu-west-1.amazonaws.com.evil.example/eu-west-1_AbC123/.well-known/jwks.json", ""])
def test_a_url_that_is_not_a_user_pools_key_set_fails_the_deploy_without_a_fetch(url):
    out, sent = run("Create", url=url)
    assert out["Status"] == "FAILED" and "is not a Cognito user pool" in out["Reason"] and "get" not in sent


@pytest.mark.parametrize("document,reason", [(b'{"keys": []}', "no RS256 signing key"), (b'{"keys": [{"kty": "EC", "kid": "a"}]}', "no RS256"),
                                             (b"<html>", "JSONDecodeError")])
def test_a_key_set_without_rsa_signing_keys_fails_the_deploy(document, reason):
    out, _ = run("Update", document=document)
    assert out["Status"] == "FAILED" and reason in out["Reason"]


def test_an_unreachable_pool_fails_the_deploy_and_delete_never_fetches():
    out, _ = run("Create", fail=OSError("timed out"))
    assert out["Status"] == "FAILED" and "timed out" in out["Reason"]
    out, sent = run("Delete", fail=OSError("unreachable"))
    assert out["Status"] == "SUCCESS" and "get" not in sent
