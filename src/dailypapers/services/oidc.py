"""OpenID Connect sign-in (authorization code flow with PKCE) against the one provider of the settings
(oidc_issuer, oidc_client_id, oidc_client_secret, oidc_scopes).

Only the configured issuer's discovery document is read, and the endpoints it names (authorization,
token, JWKS, userinfo): no URL ever comes from a request. The redirect URI is settings.site_url +
/signin/oidc/callback, never the Host header. State, nonce and the PKCE verifier travel in a signed,
short-lived cookie (STATE_MINUTES) that only the callback reads. The ID token is checked here (its
signature against the provider's JWKS, issuer, audience, nonce, expiry against the provider's clock,
which is the wall clock); services.accounts.sign_in_oidc then finds, links or makes the account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from dailypapers.core.settings import Settings
from dailypapers.digest.tokens import InvalidToken, Signer

OIDC_STATE = "oidc-state"  # the signer's salt of the state cookie
STATE_MINUTES = 10
TIMEOUT = httpx.Timeout(10.0)
MAX_RESPONSE_BYTES = 1_000_000
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_SECONDS = 120


class OidcError(Exception):
    """The sign-in through the provider failed; the message says why, in words."""


@dataclass(frozen=True)
class Started:
    """Where to send the browser, and the signed state cookie to set."""

    url: str
    cookie: str


@dataclass(frozen=True)
class Finished:
    """The provider's checked identity, and what the sign-in carries on to (`next`, a pending vote)."""

    identity: dict[str, Any]
    next_path: str
    vote: str


def enabled(settings: Settings) -> bool:
    """Whether OpenID Connect sign-in is configured."""
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def provider_name(settings: Settings) -> str:
    """What the button calls the provider: oidc_name, else the issuer's host."""
    return settings.oidc_name or urlsplit(settings.oidc_issuer).hostname or settings.oidc_issuer


def redirect_uri(settings: Settings) -> str:
    """The callback URL registered with the provider (from settings.site_url)."""
    return f"{settings.site_url.rstrip('/')}/signin/oidc/callback"


def _get_json(client: httpx.Client, url: str, **kwargs: Any) -> dict[str, Any]:
    """A JSON object from the provider, else OidcError in words."""
    try:
        response = client.request(kwargs.pop("method", "GET"), url, **kwargs)
    except httpx.HTTPError as exc:
        raise OidcError(f"the provider could not be reached ({type(exc).__name__})") from exc
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise OidcError("the provider's answer is too large")
    try:
        body = response.json()
    except ValueError as exc:
        raise OidcError(f"the provider answered HTTP {response.status_code} without JSON") from exc
    if not isinstance(body, dict):
        raise OidcError("the provider's answer is not a JSON object")
    if response.status_code >= 400:
        raise OidcError(f"the provider refused: {str(body.get('error') or response.status_code)[:200]}")
    return body


def _metadata(client: httpx.Client, settings: Settings) -> dict[str, Any]:
    """The configured issuer's discovery document, checked to be that issuer's."""
    issuer = settings.oidc_issuer.rstrip("/")
    meta = _get_json(client, f"{issuer}/.well-known/openid-configuration")
    if str(meta.get("issuer", "")).rstrip("/") != issuer:
        raise OidcError("the provider's discovery document names another issuer")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not str(meta.get(key, "")).startswith(("https://", "http://")):
            raise OidcError(f"the provider's discovery document has no {key}")
    return meta


def _client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False)


def start(settings: Settings, signer: Signer, next_path: str, vote: str, now: datetime) -> Started:
    """The provider's authorization URL for a new sign-in, and its state cookie; OidcError when
    OIDC is not configured or the provider cannot be reached."""
    if not enabled(settings):
        raise OidcError("sign-in through an identity provider is not set up on this site")
    with _client() as client:
        meta = _metadata(client, settings)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.oidc_client_id,
            "redirect_uri": redirect_uri(settings),
            "scope": settings.oidc_scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    endpoint = str(meta["authorization_endpoint"])
    url = f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
    payload = {
        "s": state,
        "n": nonce,
        "c": verifier,
        "next": next_path,
        "vote": vote,
        "t": int(now.timestamp()),
    }
    return Started(url, signer.sign(OIDC_STATE, payload))


def _state(signer: Signer, cookie: str | None, state: str, now: datetime) -> dict[str, Any]:
    try:
        payload = signer.check(OIDC_STATE, cookie or "")
    except InvalidToken as exc:
        raise OidcError("the sign-in was not started from this browser, or took too long") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("t"), int):
        raise OidcError("the sign-in was not started from this browser")
    if now.timestamp() - payload["t"] > STATE_MINUTES * 60:
        raise OidcError("the sign-in took too long: please start again")
    if not state or not secrets.compare_digest(str(payload.get("s", "")), state):
        raise OidcError("the answer does not belong to the sign-in this browser started")
    return payload


def _id_claims(
    client: httpx.Client, settings: Settings, meta: dict[str, Any], id_token: str, nonce: str
) -> dict[str, Any]:
    """The claims of an ID token whose signature, issuer, audience, nonce and times are right."""
    keys = _get_json(client, str(meta["jwks_uri"]))
    try:
        token = jwt.decode(id_token, KeySet.import_key_set(keys), algorithms=list(ALGORITHMS))  # type: ignore[arg-type]
        jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": str(meta["issuer"])},
            aud={"essential": True, "value": settings.oidc_client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise OidcError(f"the provider's ID token is not valid ({type(exc).__name__})") from exc
    claims = dict(token.claims)
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != settings.oidc_client_id:
        raise OidcError("the provider's ID token was made for another client")
    return claims


def finish(
    settings: Settings, signer: Signer, cookie: str | None, params: dict[str, str], now: datetime
) -> Finished:
    """Check the provider's answer (`params`: code, state or error) against the state cookie,
    exchange the code and check the ID token; the identity (issuer, subject, email,
    email_verified, preferred_username), else OidcError in words."""
    if not enabled(settings):
        raise OidcError("sign-in through an identity provider is not set up on this site")
    if params.get("error"):
        words = params.get("error_description") or params["error"]
        raise OidcError(f"the provider did not sign you in: {words[:200]}")
    payload = _state(signer, cookie, params.get("state", ""), now)
    if not params.get("code"):
        raise OidcError("the provider sent no authorization code")
    data = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": redirect_uri(settings),
        "code_verifier": str(payload["c"]),
    }
    auth = (settings.oidc_client_id, settings.oidc_client_secret) if settings.oidc_client_secret else None
    if auth is None:
        data["client_id"] = settings.oidc_client_id
    with _client() as client:
        meta = _metadata(client, settings)
        tokens = _get_json(client, str(meta["token_endpoint"]), method="POST", data=data, auth=auth)
        if not isinstance(tokens.get("id_token"), str):
            raise OidcError("the provider sent no ID token")
        claims = _id_claims(client, settings, meta, tokens["id_token"], str(payload["n"]))
        if "email" not in claims and meta.get("userinfo_endpoint") and tokens.get("access_token"):
            info = _get_json(
                client,
                str(meta["userinfo_endpoint"]),
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            )
            if info.get("sub") == claims["sub"]:
                claims = {**info, **claims}
    identity = {
        "issuer": str(meta["issuer"]),
        "subject": str(claims["sub"])[:300],
        "email": claims.get("email") if isinstance(claims.get("email"), str) else None,
        "email_verified": claims.get("email_verified") is True,
        "preferred_username": str(claims.get("preferred_username") or "")[:64],
    }
    return Finished(identity, str(payload.get("next") or ""), str(payload.get("vote") or ""))
