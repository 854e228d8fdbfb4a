"""Bearer-token auth (FER_API_TOKEN), compared in constant time, and the rule for when it may be off."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fer_app.api.problems import Problem
from fer_app.errors import FerError

_bearer = HTTPBearer(auto_error=False, description="the server's FER_API_TOKEN")


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_start(host: str, token: str | None, no_auth: bool) -> None:
    """Refuse to listen beyond loopback without a token, unless auth was switched off explicitly."""
    if token is None and not no_auth and not is_loopback(host):
        raise FerError(f"refusing to listen on {host} without a token: set FER_API_TOKEN, or pass --no-auth "
                       "to serve anyone who can reach the port")


def bearer_dependency(token: str):
    expected = token.encode()

    async def require_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]):
        given = credentials.credentials.encode() if credentials is not None else b""
        if not given or not hmac.compare_digest(given, expected):
            raise Problem(401, "unauthorized", "missing or wrong bearer token (Authorization: Bearer <FER_API_TOKEN>)",
                          headers={"WWW-Authenticate": "Bearer"})

    return require_token
