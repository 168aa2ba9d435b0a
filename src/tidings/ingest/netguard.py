"""The address guard: Tidings fetches only from the public internet unless told otherwise.

A feed reader fetches URLs that strangers chose (a subscription, a redirect, an OPML file), so
without a guard anyone who can add a source could make the server read its own admin pages,
the cloud metadata service at 169.254.169.254 or a router on the LAN (server-side request
forgery). The guard refuses every special-purpose address (loopback, private, link-local,
CGNAT, multicast, documentation, reserved, and IPv6 forms that embed such an IPv4 address)
unless it falls inside ``FetchSettings.allowed_networks``.

Two parts:

* :func:`classify_address` and :func:`refusal_reason` are pure: an address in, a verdict out.
  The tables below are written out rather than taken from ``ipaddress``'s ``is_private`` &
  co., whose answers changed between Python patch releases (CVE-2024-4032); a security
  boundary should not move with the interpreter.
* :class:`GuardedNetworkBackend` is an httpcore network backend. Every TCP connection the HTTP
  client opens goes through its ``connect_tcp``, which resolves the host once, checks every
  address, and then connects to the checked address itself. Checking a name and letting the
  client resolve it again later would let a DNS server answer "public" to the check and
  "127.0.0.1" to the connection (DNS rebinding); here there is no second lookup. TLS still
  uses the original host name for SNI and certificate checks, because httpcore passes the
  URL's host, not ours, to ``start_tls``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence

import anyio
import httpcore

from tidings.errors import BlockedAddressError, FetchConnectionError, FetchTimeoutError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Resolves ``(host, port)`` to the addresses to connect to, in preference order.
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# IANA IPv4 special-purpose registry, most specific first where ranges nest.
_V4_SPECIAL: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified"),  # "this network"; 0.0.0.0 reaches localhost on Linux
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared (CGNAT)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),  # includes cloud metadata at 169.254.169.254
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "reserved"),  # IETF protocol assignments
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("192.88.99.0/24"), "reserved"),  # deprecated 6to4 relay anycast
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),  # includes the broadcast address 255.255.255.255
)

# IPv6 ranges that embed an IPv4 address: judged by the IPv4 address they lead to.
_V6_MAPPED = _V6("::ffff:0:0/96")  # the OS connects to the embedded IPv4 address directly
_V6_NAT64 = _V6("64:ff9b::/96")  # a NAT64 gateway forwards to the embedded address
_V6_6TO4 = _V6("2002::/16")  # a 6to4 relay forwards to the embedded address

_V6_SPECIAL: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("64:ff9b:1::/48"), "private"),  # local-use NAT64
    (_V6("100::/64"), "reserved"),  # discard-only
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("2001::/23"), "reserved"),  # IETF protocol assignments, Teredo among them
    (_V6("3fff::/20"), "documentation"),
    (_V6("fc00::/7"), "private"),  # unique local addresses
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "private"),  # deprecated site-local, still routed on some networks
    (_V6("ff00::/8"), "multicast"),
)
# Only 2000::/3 is allocated for global unicast; anything else not listed above is reserved.
_V6_GLOBAL_UNICAST = _V6("2000::/3")

_ALLOW_HINT = "allow it with TIDINGS_ALLOWED_NETWORKS"


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address leads to, and how, if it embeds one."""
    if address in _V6_MAPPED:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "IPv4-mapped"
    if address in _V6_NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if address in _V6_6TO4:
        return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF), "6to4"
    return None


def classify_address(address: IPAddress) -> str | None:
    """The kind of special-purpose address this is ("loopback", "private", …), or None.

    None means a global unicast address, which the guard lets through. An IPv6 address that
    embeds an IPv4 address (IPv4-mapped, NAT64, 6to4) is classified by the IPv4 address,
    prefixed with the embedding: "IPv4-mapped loopback".
    """
    if isinstance(address, ipaddress.IPv4Address):
        for network, kind in _V4_SPECIAL:
            if address in network:
                return kind
        return None
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        inner, how = embedded
        inner_kind = classify_address(inner)
        return None if inner_kind is None else f"{how} {inner_kind}"
    for network6, kind in _V6_SPECIAL:
        if address in network6:
            return kind
    if address not in _V6_GLOBAL_UNICAST:
        return "reserved"
    return None


def is_allowed(address: IPAddress, allowed_networks: Iterable[IPNetwork]) -> bool:
    """Whether the operator's allow-list covers the address (or the IPv4 address it embeds)."""
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            candidates.append(embedded[0])
    # ``in`` across IP versions is simply False, so mixed lists need no special case.
    return any(c in network for network in allowed_networks for c in candidates)


def _with_article(kind: str) -> str:
    article = "an" if kind[0] in "aeiouAEIOU" else "a"
    return f"{article} {kind} address"


def refusal_reason(address: IPAddress, allowed_networks: Iterable[IPNetwork] = ()) -> str | None:
    """Why the guard refuses ``address`` ("a private address"), or None if it may be used."""
    kind = classify_address(address)
    if kind is None or is_allowed(address, allowed_networks):
        return None
    return _with_article(kind)


def _parse_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Resolve with the system resolver (in a worker thread), keeping its preference order."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    return addresses


def network_error_reason(exc: BaseException) -> str:
    """A short one-line reason ("connection refused") from an exception or what caused it.

    httpcore and httpx wrap OS and TLS errors in their own; the useful words are inside.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return _one_line(f"TLS certificate not accepted: {seen.verify_message}")
        if isinstance(seen, ssl.SSLError):
            return _one_line(f"TLS failed: {seen.reason or seen}")
        if isinstance(seen, OSError) and seen.errno:
            # asyncio words refusals as "Connect call failed (...)"; the errno says it plainly.
            return os.strerror(seen.errno).lower()
        seen = seen.__cause__ or seen.__context__
    return _one_line(str(exc)) or type(exc).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses the guard accepts.

    ``connect_tcp`` raises :class:`BlockedAddressError` if the host (a name or an IP literal)
    resolves to any refused address: one bad address among good ones is a sign of someone
    probing, and quietly skipping it would make failures depend on resolver order. It raises
    :class:`FetchConnectionError` when the name does not resolve or no address accepts the
    connection, and :class:`FetchTimeoutError` when resolving plus connecting takes longer
    than the connect timeout. These pass through httpx untouched (it maps only httpcore's
    own exceptions), so the fetcher sees our errors with our messages.
    """

    def __init__(
        self,
        allowed_networks: Iterable[IPNetwork] = (),
        *,
        resolve: Resolver = resolve_host,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allowed = tuple(allowed_networks)
        self._resolve = resolve
        self._backend = backend if backend is not None else httpcore.AnyIOBackend()

    async def check_host(self, host: str, port: int) -> list[IPAddress]:
        """Resolve ``host`` and return its addresses if the guard accepts all of them."""
        literal = _parse_literal(host)
        if literal is not None:
            addresses: Sequence[IPAddress] = [literal]
        else:
            try:
                addresses = await self._resolve(host, port)
            except OSError as e:
                reason = e.strerror if isinstance(e, socket.gaierror) else network_error_reason(e)
                error = FetchConnectionError(f"cannot resolve host {host}: {reason}")
                # "No such name" will not change within seconds: leave it to the scheduler's
                # backoff instead of retrying now. EAI_AGAIN is the resolver's own "try again".
                if isinstance(e, socket.gaierror) and e.errno != socket.EAI_AGAIN:
                    error.transient = False
                raise error from e
            if not addresses:
                raise FetchConnectionError(f"cannot resolve host {host}: no addresses")
        for address in addresses:
            reason = refusal_reason(address, self._allowed)
            if reason is None:
                continue
            if literal is not None:
                message = f"refused: {address} is {reason} ({_ALLOW_HINT})"
            else:
                message = f"refused: {host} resolves to {address}, {reason} ({_ALLOW_HINT})"
            raise BlockedAddressError(message)
        return list(addresses)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # One budget for resolving and connecting: a slow resolver must not double the wait.
        deadline = None if timeout is None else anyio.current_time() + timeout
        try:
            with anyio.fail_after(timeout):
                addresses = await self.check_host(host, port)
        except TimeoutError as e:
            raise FetchTimeoutError(
                f"cannot resolve host {host} within {timeout or 0:g} s (connect timeout)"
            ) from e
        failure: Exception | None = None
        for address in addresses:
            remaining = None if deadline is None else deadline - anyio.current_time()
            if remaining is not None and remaining <= 0:
                failure = None
                break
            try:
                # The checked literal, never the name: no second lookup, nothing to rebind.
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectTimeout:
                failure = None
                break
            except httpcore.ConnectError as e:
                failure = e
        if failure is not None:
            raise FetchConnectionError(
                f"cannot connect to {host} port {port}: {network_error_reason(failure)}"
            ) from failure
        raise FetchTimeoutError(
            f"cannot connect to {host} port {port} within {timeout or 0:g} s (connect timeout)"
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # Never reached through the fetcher (it sets no uds); refuse rather than bypass.
        raise BlockedAddressError(f"refused: unix socket {path} is not a network address")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
