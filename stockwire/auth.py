"""Who is on the other end of a WebSocket, and may they connect at all.

A socket authenticates with `?token=<access JWT>` or with the browser's session cookie. A
cookie is sent by the browser to any site's WebSocket, so a cookie-authenticated socket must
come from one of our own origins (cross-site WebSocket hijacking); a token is proof enough
without an Origin (scripts, apps), but a foreign Origin is refused either way.

Our own origins, matched exactly (scheme, host and port), as Django's CSRF check matches an
HTTP request's Origin: the socket's own (its scheme and its Host, a Host ALLOWED_HOSTS
accepts), and STOCKWIRE["ALLOWED_ORIGINS"], by default CSRF_TRUSTED_ORIGINS (where
"https://*.example.com" stands for its subdomains). ALLOWED_HOSTS = ["*"] never makes every
origin ours: the Origin must still be the socket's own.

With STOCKWIRE["ANONYMOUS"], a socket with no credentials (or a session that is not logged
in) gets an AnonymousUser and may watch stock; a token that does not verify is refused all
the same. `?token=` needs djangorestframework-simplejwt (the `jwt` extra).

A refused socket is accepted and closed at once with a 44xx code, so clients can tell why,
and the refusal is logged once, without the query string (it may hold a token).
"""

import hashlib
import logging
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from channels.auth import get_user as get_session_user
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils.module_loading import import_string

from .conf import stockwire_settings
from .errors import DATABASE_ERRORS
from .metrics import REFUSED_SOCKETS
from .protocol import CloseCode

logger = logging.getLogger("stockwire.auth")

# The scope key of when a socket's credentials end (a token's expiry, in epoch seconds; None
# for a session): the consumer closes the socket then, with 4401.
CREDENTIALS_EXPIRE_AT = "stockwire.credentials_expire_at"

# The scope key of the digest of the session a cookie socket opened with (None for a token):
# a logout of that session closes the socket (stockwire/signouts.py).
SESSION = "stockwire.session"


class Credentials(NamedTuple):
    user: object
    # When they end (a token's expiry, in epoch seconds); None for a session.
    expires_at: float | None = None
    # session_digest() of a cookie socket's session; None for a token or a visitor.
    session: str | None = None


class Refused(Exception):
    def __init__(self, code: CloseCode, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def StockwireAuthMiddlewareStack(inner):
    """Wrap the WebSocket routes: the scope gets its `user`, or the socket is refused."""
    return WebSocketAuthMiddleware(inner)


class WebSocketAuthMiddleware:
    """Puts the authenticated `user` in the scope, or refuses the socket."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        try:
            credentials = await authenticate(scope)
        except Refused as refusal:
            logger.info(
                "websocket refused: %s (close %d) client=%s path=%s",
                refusal.reason,
                refusal.code,
                _client(scope),
                scope.get("path"),
            )
            REFUSED_SOCKETS.labels(refusal.reason.replace(" ", "_")).inc()
            return await _refuse(receive, send, refusal.code)
        extra = {CREDENTIALS_EXPIRE_AT: credentials.expires_at, SESSION: credentials.session}
        return await self.app(dict(scope, user=credentials.user, **extra), receive, send)


async def authenticate(scope) -> Credentials:
    """Who the socket is and how long for, or raise Refused."""
    if not _host_allowed(scope):
        raise Refused(CloseCode.FORBIDDEN_ORIGIN, "host not allowed")
    origin = _header(scope, b"origin")
    if origin is not None and not origin_allowed(scope, origin):
        raise Refused(CloseCode.FORBIDDEN_ORIGIN, "origin not allowed")
    token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    if token:
        return await _user_for_token(token[0])
    session_key = _cookie(scope, settings.SESSION_COOKIE_NAME)
    if session_key:
        if origin is None:
            raise Refused(CloseCode.FORBIDDEN_ORIGIN, "cookie without origin")
        try:
            user = await get_session_user({"session": _session_store(session_key)})
        except DATABASE_ERRORS:
            raise Refused(CloseCode.SERVICE_UNAVAILABLE, "database unavailable") from None
        if user.is_authenticated and user.is_active:
            return Credentials(user, session=session_digest(session_key))
        if stockwire_settings.ANONYMOUS:
            return Credentials(AnonymousUser())
        raise Refused(CloseCode.UNAUTHORIZED, "session not logged in")
    if stockwire_settings.ANONYMOUS:
        return Credentials(AnonymousUser())
    raise Refused(CloseCode.UNAUTHORIZED, "no credentials")


def origin_allowed(scope, origin: str) -> bool:
    """Whether `origin` is one of ours: exactly the socket's own, or one the shop trusts.

    A malformed Origin (a bad port, no host, "null") is not ours; it never raises.
    """
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        return False
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6
    host = name if port is None else f"{name}:{port}"
    normalized = f"{parts.scheme}://{host}"
    if normalized == _own_origin(scope):
        return True
    trusted = stockwire_settings.ALLOWED_ORIGINS
    if trusted is None:
        trusted = settings.CSRF_TRUSTED_ORIGINS
    for allowed in trusted:
        scheme, _, allowed_host = allowed.lower().partition("://")
        if scheme != parts.scheme:
            continue
        if allowed_host == host or (
            allowed_host.startswith("*.") and host.endswith(allowed_host[1:])
        ):
            return True
    return False


def _own_origin(scope) -> str:
    """The origin of the page that would open this socket: its scheme and its Host header
    (which _host_allowed has checked)."""
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    return f"{scheme}://{(_header(scope, b'host') or '').lower()}"


def _host_allowed(scope) -> bool:
    """The handshake's Host is one ALLOWED_HOSTS accepts, as Django checks an HTTP request's
    (with DEBUG on and no ALLOWED_HOSTS, the localhost names Django accepts then)."""
    domain, _port = split_domain_port((_header(scope, b"host") or "").lower())
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


@database_sync_to_async
def _user_for_token(raw: str):
    try:
        from rest_framework.exceptions import AuthenticationFailed
        from rest_framework_simplejwt.authentication import JWTAuthentication
        from rest_framework_simplejwt.exceptions import TokenError
    except ImportError:
        raise Refused(CloseCode.UNAUTHORIZED, "token auth not installed") from None
    jwt = JWTAuthentication()
    try:
        token = jwt.get_validated_token(raw.encode())
        return Credentials(jwt.get_user(token), float(token["exp"]))
    except (TokenError, AuthenticationFailed):
        raise Refused(CloseCode.UNAUTHORIZED, "invalid token") from None
    except DATABASE_ERRORS:
        raise Refused(CloseCode.SERVICE_UNAVAILABLE, "database unavailable") from None


def session_digest(session_key: str) -> str:
    """How processes name a session to each other: a digest, so that its key, a credential,
    never travels through the channel layer."""
    return hashlib.blake2b(session_key.encode(), digest_size=16).hexdigest()


def _session_store(session_key: str):
    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)


async def _refuse(receive, send, code: CloseCode) -> None:
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})
        # A plain int: daphne (autobahn) refuses an IntEnum and closes with 1011 instead.
        await send({"type": "websocket.close", "code": int(code)})


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _cookie(scope, name: str) -> str | None:
    return parse_cookie(_header(scope, b"cookie") or "").get(name) or None


def _client(scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "-"
