"""The retrieve function derives the tier itself (issue 25, item 4): a query function that is buggy or
compromised, and so can put anything in the event, cannot raise a caller's tier. Each case calls the
real retrieve handler the way the query function does (the event it builds), on PGlite with every
migration, and checks which database user it logged in as (none when refused)."""
import base64
import json

import pytest
import retrieve_handler
from caller_token import (
    TokenRejected,
    TokenVerifier,
    _rsa_pkcs1_sha256_valid,
    parse_jwks,
)
from docai_shared import db
from gateway_env import env_vars
from local_models import embed
from moto import mock_aws
from query_env import (
    DIM,
    TIER_GROUPS,
    TOKEN_CLIENT,
    TOKEN_ISSUER,
    corpus_database,
    pool_jwks,
    query_environment,
    signed_token,
    use_pglite_for_readers,
)

FAR = 4102444800


@pytest.fixture(scope="module")
def database():
    with corpus_database() as conn:
        yield conn


@pytest.fixture
def logins(database):
    seen: list = []
    original = db.connect_with_password
    use_pglite_for_readers(database, seen)
    retrieve_handler._connections.clear()
    with mock_aws(), env_vars({**query_environment(), "TIER_GROUPS": json.dumps(TIER_GROUPS)}):
        yield seen
    db.connect_with_password = original
    retrieve_handler._connections.clear()


def token(groups, **over):
    return signed_token({"sub": "user-alice", "token_use": "id", "iss": TOKEN_ISSUER, "aud": TOKEN_CLIENT, "exp": FAR, "cognito:groups": groups, **over})


def call(**event):
    return retrieve_handler.handler({"embedding": embed("merger plan", DIM), "k": 10, "filters": {}, **event})


def keys(result):
    return {h["key"] for h in result["hits"]}


def test_a_valid_token_searches_as_its_own_tier(logins):
    assert "board/merger-plan.docx" in keys(call(token=token(["docai-tier-restricted"]), tier="restricted"))
    assert keys(call(token=token(["docai-tier-public"]))) == {"handbook/opening-hours.pdf"}  # no tier named: derived
    assert logins == ["docai_reader_restricted", "docai_reader_public"]


def test_a_forged_tier_beside_a_real_lower_token_is_refused(logins):
    with pytest.raises(retrieve_handler.TierRefused, match="names tier 'restricted'.*maps to 'public'"):
        call(token=token(["docai-tier-public"]), tier="restricted")
    assert logins == []


def _other_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(d):
    return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")


def _forgeries():
    good = token(["docai-tier-public"])
    head, _, sig = good.split(".")
    restricted = {"sub": "user-alice", "token_use": "id", "iss": TOKEN_ISSUER, "aud": TOKEN_CLIENT, "exp": FAR, "cognito:groups": ["docai-tier-restricted"]}
    return {
        "no token": None,
        "not a JWT": "restricted",
        "groups edited after signing": f"{head}.{_b64(restricted)}.{sig}",
        "signed by another key under the pool's kid": signed_token(restricted, key=_other_key()),
        "alg none": f"{_b64({'alg': 'none', 'kid': 'pool-key-1'})}.{_b64(restricted)}.",
        "alg HS256 keyed with the public JWKS": f"{_b64({'alg': 'HS256', 'kid': 'pool-key-1'})}.{_b64(restricted)}.{sig}",
        "unknown kid": signed_token(restricted, header={"alg": "RS256", "kid": "attacker"}),
        "another pool": token(["docai-tier-restricted"], iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"),
        "another app client": token(["docai-tier-restricted"], aud="someone-elses-client"),
        "an access token": token(["docai-tier-restricted"], token_use="access"),
        "expired": token(["docai-tier-restricted"], exp=1_000_000_000),
        "no tier group": token(["staff", "x,docai-tier-restricted"]),
    }


@pytest.mark.parametrize("case", list(_forgeries()))
def test_a_forged_or_foreign_token_is_refused_before_any_login(logins, case):
    forged = _forgeries()[case]
    with pytest.raises(retrieve_handler.TierRefused):
        call(token=forged, tier="restricted")
    with pytest.raises(retrieve_handler.TierRefused):
        call(token=forged)
    assert logins == []


def test_iam_callers_get_the_configured_tier_only_and_a_token_cannot_change_it(logins, monkeypatch):
    monkeypatch.setenv("TIER_SOURCE", "iam")
    monkeypatch.setenv("IAM_CALLER_TIER", "internal")
    assert "board/merger-plan.docx" not in keys(call(tier="internal"))
    assert "board/merger-plan.docx" not in keys(call(token=token(["docai-tier-restricted"])))
    with pytest.raises(retrieve_handler.TierRefused):
        call(tier="restricted")
    assert logins == ["docai_reader_internal"]  # one connection, reused


@pytest.mark.parametrize("source", [None, "", "event", "COGNITO"])
def test_without_a_known_tier_source_nothing_is_read(logins, monkeypatch, source):
    if source is None:
        monkeypatch.delenv("TIER_SOURCE", raising=False)
    else:
        monkeypatch.setenv("TIER_SOURCE", source)
    with pytest.raises(retrieve_handler.TierRefused):
        call(token=token(["docai-tier-public"]), tier="public")
    assert logins == []


def test_the_signature_check_refuses_what_pkcs1_forgeries_try():
    n, e = next(iter(parse_jwks(pool_jwks()).values()))
    k = (n.bit_length() + 7) // 8
    assert not _rsa_pkcs1_sha256_valid(n, e, b"\x00" * k, b"m")  # zero
    assert not _rsa_pkcs1_sha256_valid(n, e, n.to_bytes(k, "big"), b"m")  # s >= n
    assert not _rsa_pkcs1_sha256_valid(n, e, b"\x01", b"m")  # wrong length
    assert not _rsa_pkcs1_sha256_valid(n, e, (1).to_bytes(k, "big"), b"m")  # 1^e = 1
    t = token(["docai-tier-public"])
    verifier = TokenVerifier(parse_jwks(pool_jwks()), TOKEN_ISSUER, (TOKEN_CLIENT,))
    assert verifier.verify(t)["cognito:groups"] == ["docai-tier-public"]
    with pytest.raises(TokenRejected, match="expired"):
        verifier.verify(t, now=FAR + 31)
    assert verifier.verify(t, now=FAR + 29)  # the leeway for clock skew
    with pytest.raises(TokenRejected, match="key that is not"):
        TokenVerifier({}, TOKEN_ISSUER).verify(t)  # no JWKS in the environment: nothing verifies
