"""Request dependencies of auth: the request id, the signed-in actor (cookie or bearer token),
the permission check, CSRF and the client's address. Domain views depend on these; nothing here
knows of the web pages."""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from fastapi import Request

from qingzhi.auth import service as auth
from qingzhi.auth import tokens
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import CsrfFailed, Unauthenticated
from qingzhi.store.deps import database, settings_of, transaction

log = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "X-CSRF-Token"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
# Request ids need only be unique, not secret: drawn from a generator seeded once per process
# (``os.urandom`` is a system call, and the event loop's thread would give up the GIL for it).
_ids = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


def request_id_of(request: Request) -> str:
    """The request's id: the client's X-Request-ID when well-formed, else a new one."""
    rid = getattr(request.state, "request_id", None)
    if rid:
        return str(rid)
    given = request.headers.get("X-Request-ID", "")
    rid = given if _REQUEST_ID.match(given) else f"{_ids.getrandbits(128):032x}"
    request.state.request_id = rid
    return rid


@dataclass(frozen=True)
class Principal:
    """The signed-in actor and how they signed in (cookie sessions carry a CSRF token)."""

    actor: Actor
    session_id: int | None
    csrf_token: str | None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("Host", "")
    return urlsplit(origin).netloc == host


def require_same_origin(request: Request) -> None:
    """Refuse a request whose Origin (or Referer) names another site (a cross-site form post)."""
    if not _same_origin(request):
        raise CsrfFailed(details={"reason": "cross-site request"})


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _proxy_networks(setting: str) -> tuple[_Network, ...]:
    parts = (p.strip() for p in setting.split(","))
    return tuple(ipaddress.ip_network(p, strict=False) for p in parts if p)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(request: Request) -> str:
    """The client's address: the TCP peer; or, when the peer is a trusted reverse proxy
    (``QINGZHI_TRUSTED_PROXIES``), the last address of X-Forwarded-For that is not one. Proxy
    headers from anyone else are ignored (a client could name any address in them)."""
    peer_text = request.client.host if request.client is not None else ""
    peer = _ip(peer_text)
    if peer is None:
        return peer_text[:64] or "unknown"
    proxies = _proxy_networks(settings_of(request).trusted_proxies)
    if not any(peer in net for net in proxies):
        return str(peer)
    hops = [h for header in request.headers.getlist("X-Forwarded-For") for h in header.split(",")]
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:
            break  # a malformed hop: trust nothing before it
        if not any(address in net for net in proxies):
            return str(address)
    return str(peer)


async def principal(request: Request) -> Principal:
    """Who is calling: a bearer token, or a browser session cookie (with CSRF checks)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    settings = settings_of(request)
    rid = request_id_of(request)
    header = request.headers.get("Authorization", "")
    stale_token: int | None = None
    if header.lower().startswith("bearer "):
        actor, stale_token = tokens.bearer_actor(
            db=database(request), token=header[7:].strip(), request_id=rid
        )
        found = Principal(actor, None, None)
    else:
        cookie = request.cookies.get(settings.session_cookie)
        if not cookie:
            raise Unauthenticated()
        with transaction(request, write=False) as session:
            web = auth.resolve_session(session=session, token=cookie)
            found = Principal(
                auth.actor_for(session, web.user, request_id=rid, via="session"),
                web.id,
                web.csrf_token,
            )
    if stale_token is not None:
        with transaction(request, write=True) as session:
            tokens.touch_token(session=session, token_id=stale_token)
    if found.csrf_token is not None and request.method not in SAFE_METHODS:
        if not _same_origin(request):
            raise CsrfFailed(details={"reason": "cross-site request"})
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
        if sent != found.csrf_token:
            raise CsrfFailed(details={"reason": "missing or wrong CSRF token"})
    request.state.principal = found
    return found


def current_actor(request: Request, who: Principal) -> Actor:
    """The caller's actor as of now, re-read from their token or session (one statement outside
    any transaction): Unauthenticated once it is revoked or expired or its user is disabled."""
    rid = request_id_of(request)
    if who.session_id is not None:
        return tokens.session_actor(db=database(request), session_id=who.session_id, request_id=rid)
    header = request.headers.get("Authorization", "")
    return tokens.bearer_actor(db=database(request), token=header[7:].strip(), request_id=rid)[0]


def require(perm: Perm) -> Callable[[Request], Awaitable[Actor]]:
    """A dependency giving the actor, refusing callers whose role lacks ``perm``."""

    async def dependency(request: Request) -> Actor:
        actor = (await principal(request)).actor
        actor.require(perm)
        return actor

    dependency.__name__ = f"require_{perm.name}"
    return dependency
