"""Admin authentication: `Authorization: Bearer <admin key>`, compared in constant time."""

from __future__ import annotations

import hmac

from aiohttp import web

from gateway.errors import unauthorized
from gateway.http.appkeys import ADMIN_KEY


def bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_admin(request: web.Request) -> None:
    """Raise 401 unless the request carries the admin key."""
    token = bearer_token(request)
    expected = request.app[ADMIN_KEY].encode()
    # Undecodable header bytes reach us as surrogates; they can never match, but must not raise.
    presented = None if token is None else token.encode("utf-8", "surrogateescape")
    if presented is None or not hmac.compare_digest(presented, expected):
        raise unauthorized("The admin key is missing or wrong.")
