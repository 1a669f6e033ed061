"""The caller's tier as the retrieve function derives it: from the Cognito ID token itself, whose
signature it checks against the user pool's public keys (JWKS), never from what the query function
says the tier is. The keys reach the function in its environment (fetched when the stack deploys by
jwks_handler.py, written by CloudFormation), because the VPC the function runs in has no internet
route to the pool's ``/.well-known/jwks.json``.

RS256 only (what Cognito user pools sign with:
https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html).
The check is PKCS #1 v1.5 (RFC 8017, section 8.2.2) by encode-and-compare: the whole expected
encoding is built and compared, so no parser of the decrypted block can be fooled by a crafted one.
It uses public keys only, so it holds no secret a timing difference could leak.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from docai_shared.contract import ACCESS_TIERS as TIERS
# DER prefix of DigestInfo for SHA-256 (RFC 8017, section 9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
# Clock skew accepted on exp (seconds).
LEEWAY_S = 30


class TokenRejected(Exception):
    """The token is not a valid ID token of this user pool; the reason says which check failed."""


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _rsa_pkcs1_sha256_valid(n: int, e: int, signature: bytes, message: bytes) -> bool:
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    em = pow(s, e, n).to_bytes(k, "big")
    t = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    if k < len(t) + 11:
        return False
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(em, expected)


def parse_jwks(text: str) -> dict[str, tuple[int, int]]:
    """kid -> (n, e) of the RSA signing keys in a JWKS document."""
    keys: dict[str, tuple[int, int]] = {}
    for key in json.loads(text).get("keys", []):
        if key.get("kty") == "RSA" and key.get("alg", "RS256") == "RS256" and key.get("use", "sig") == "sig" and key.get("kid"):
            keys[key["kid"]] = (int.from_bytes(_b64(key["n"]), "big"), int.from_bytes(_b64(key["e"]), "big"))
    return keys


@dataclass(frozen=True)
class TokenVerifier:
    keys: dict
    issuer: str
    audiences: tuple = ()  # app client ids; empty: any client of the pool (a pool passed in keeps its own clients)

    def verify(self, token: Any, now: float | None = None) -> dict:
        """The token's payload when it is an unexpired ID token of this pool signed by one of its keys."""
        if not isinstance(token, str) or token.count(".") != 2:
            raise TokenRejected("not a JWT")
        head_b64, payload_b64, sig_b64 = token.split(".")
        try:
            header, payload, signature = json.loads(_b64(head_b64)), json.loads(_b64(payload_b64)), _b64(sig_b64)
        except (ValueError, TypeError):
            raise TokenRejected("not a JWT") from None
        if not isinstance(header, dict) or not isinstance(payload, dict):
            raise TokenRejected("not a JWT")
        if header.get("alg") != "RS256":
            raise TokenRejected(f"algorithm {str(header.get('alg'))[:20]!r}; only RS256 is accepted")
        key = self.keys.get(header.get("kid"))
        if key is None:
            raise TokenRejected("signed with a key that is not the user pool's")
        if not _rsa_pkcs1_sha256_valid(key[0], key[1], signature, f"{head_b64}.{payload_b64}".encode("ascii")):
            raise TokenRejected("signature does not verify")
        if payload.get("iss") != self.issuer:
            raise TokenRejected("issued by another user pool")
        if payload.get("token_use") != "id":
            raise TokenRejected("not an ID token")
        if self.audiences and payload.get("aud") not in self.audiences:
            raise TokenRejected("issued to another app client")
        exp = payload.get("exp")
        if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp + LEEWAY_S < (time.time() if now is None else now):
            raise TokenRejected("expired")
        return payload


def tier_from_groups(groups: Any, tier_groups: dict) -> str | None:
    """The highest tier of the whole group names in the token (a list), or None."""
    if not isinstance(groups, list):
        return None
    tiers = [tier_groups[g] for g in groups if isinstance(g, str) and g in tier_groups and tier_groups[g] in TIERS]
    return max(tiers, key=TIERS.index) if tiers else None
