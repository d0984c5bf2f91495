"""A webhook step's HTTP call, guarded against server-side request forgery.

Each hop resolves its host once, checks every address it got
(`shared.domain.outbound`), and connects to the very address it checked: the
connection pool's network backend is pinned to it, so no second lookup can
answer otherwise (DNS rebinding), while the Host header and TLS's SNI and
certificate check keep the name of the URL. Redirects are followed here, a
few at most, each hop checked the same way. httpcore, httpx's own transport,
is used directly for that backend; the URL is parsed once, by httpx."""

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import httpcore
import httpx

from shared.domain.outbound import Address, Allowed, is_allowed, parse_address, refusal

MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
# Read of an answer: enough for the values a step saves.
ANSWER_BYTES = 1024 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(Exception):
    """The call may not go there: it is not tried again."""


class Unreachable(Exception):
    """No answer (a timeout, a lost connection, a name that does not resolve): worth another try."""


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    # Whether the body was longer than ANSWER_BYTES, and cut there.
    cut: bool = False


# Adds the signature headers for a body (Standard Webhooks), as each hop sends it.
Signer = Callable[[bytes], dict[str, str]]


async def call(request: Request, allowed: Allowed, seconds: float, sign: Signer) -> Answer:
    """Send `request`, following redirects; `seconds` bound the whole of it."""
    try:
        async with asyncio.timeout(seconds):
            return await _follow(request, allowed, sign)
    except TimeoutError:
        raise Unreachable(f"no answer within {seconds:g} seconds") from None


async def _follow(request: Request, allowed: Allowed, sign: Signer) -> Answer:
    for _ in range(MAX_REDIRECTS + 1):
        url = _parse(request.url)
        answer, location = await _hop(request, url, allowed, sign)
        if location is None:
            return answer
        request = _redirected(request, url, answer.status, location)
    raise Refused(f"more than {MAX_REDIRECTS} redirects")


async def _hop(request: Request, url: httpx.URL, allowed: Allowed, sign: Signer) -> tuple[Answer, str | None]:
    port = url.port or _DEFAULT_PORTS[url.scheme]
    host = url.raw_host.decode("ascii")
    address = await _checked_address(host, port, allowed)
    body = request.body or b""
    # The Host header names the URL's host, whatever address the call goes to.
    headers = {"Host": _hostport(host, url.port), **request.headers, **sign(body)}
    target = httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path)
    pool = httpcore.AsyncConnectionPool(
        ssl_context=httpcore.default_ssl_context(), network_backend=_Pinned(address), retries=0
    )
    try:
        async with (
            pool,
            pool.stream(
                request.method,
                target,
                headers=[(k.encode("ascii"), v.encode()) for k, v in headers.items()],
                # A POST, PUT or PATCH without a body still says its length (0).
                content=request.body if request.body is not None or request.method == "GET" else b"",
            ) as response,
        ):
            location = _header(response, b"location")
            if response.status in REDIRECTS and location:
                return Answer(response.status, b""), location
            answer = await _read(response)
    except httpcore.UnsupportedProtocol as error:
        raise Refused(f"unsupported URL: {error}") from None
    except httpcore.LocalProtocolError as error:
        # What the step would send is not valid HTTP: trying again cannot help.
        raise Refused(f"not a valid HTTP request: {error}") from None
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as error:
        raise Unreachable(f"{type(error).__name__} from {_hostport(host, port)}: {error}") from None
    return answer, None


async def _checked_address(host: str, port: int, allowed: Allowed) -> Address:
    """The first address `host` resolves to that a call may go to; Refused names
    the first that may not, when none may."""
    literal = parse_address(host)
    addresses = [literal] if literal is not None else await _resolve(host, port)
    if not addresses:
        raise Unreachable(f"{host} resolves to no address")
    refused: tuple[Address, str] | None = None
    for address in addresses:
        why = refusal(address)
        if why is None or is_allowed(allowed, host, address, port):
            return address
        refused = refused or (address, why)
    assert refused is not None
    address, why = refused
    said = f"{address} is {why}" if literal is not None else f"{host} resolves to {address}, {why}"
    raise Refused(
        f"refused to call {_hostport(host, port)}: {said}; "
        f"list {_hostport(host, port)} in GOALFLOW_WEBHOOK_ALLOWED_HOSTS to allow it"
    )


async def _resolve(host: str, port: int) -> list[Address]:
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except socket.gaierror as error:
        raise Unreachable(f"{host} does not resolve: {error.strerror}") from None
    return [a for a in (parse_address(str(info[4][0])) for info in found) if a is not None]


class _Pinned(httpcore.AsyncNetworkBackend):
    """Connects to the checked address, whatever name the URL has."""

    def __init__(self, address: Address):
        self.address = address
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self.inner.connect_tcp(str(self.address), port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.UnsupportedProtocol("no Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


async def _read(response: httpcore.Response) -> Answer:
    body = bytearray()
    async for chunk in response.aiter_stream():
        body += chunk
        if len(body) > ANSWER_BYTES:
            return Answer(response.status, bytes(body[:ANSWER_BYTES]), cut=True)
    return Answer(response.status, bytes(body))


def _parse(text: str) -> httpx.URL:
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as error:
        raise Refused(f"not a URL: {error}") from None
    if url.scheme not in _DEFAULT_PORTS or not url.host:
        raise Refused(f"not an http:// or https:// URL: {text[:200]!r}")
    return url


def _redirected(request: Request, url: httpx.URL, status: int, location: str) -> Request:
    """The next hop, as browsers and httpx take it: a 303, and a 301 or 302 after
    a POST, become a GET without a body; Authorization stays with its origin."""
    try:
        following = url.join(location)
    except httpx.InvalidURL as error:
        raise Refused(f"redirected to something that is not a URL: {error}") from None
    method, body = request.method, request.body
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
    headers = dict(request.headers)
    if body is None:
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    if _origin(following) != _origin(url):
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    return replace(request, method=method, url=str(following), headers=headers, body=body)


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme, 0)


def _header(response: httpcore.Response, name: bytes) -> str | None:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _hostport(host: str, port: int | None) -> str:
    """`host:port` as a URL writes it: an IPv6 address in brackets; no port: the host alone."""
    named = f"[{host}]" if ":" in host else host
    return named if port is None else f"{named}:{port}"
