"""The address guard's decisions: which addresses are refused, and what the allow-list opens."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Sequence

import pytest

from tidings.errors import BlockedAddressError, FetchConnectionError
from tidings.ingest.netguard import (
    GuardedNetworkBackend,
    IPAddress,
    Resolver,
    classify_address,
    is_allowed,
    refusal_reason,
)


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def nets(*texts: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(t) for t in texts)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("10.0.0.5", "private"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("100.127.255.254", "shared (CGNAT)"),
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("169.254.169.254", "link-local"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.0.0.8", "reserved"),
        ("192.0.2.10", "documentation"),
        ("192.88.99.1", "reserved"),
        ("192.168.1.1", "private"),
        ("198.18.0.1", "benchmarking"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
    ],
)
def test_special_ipv4_addresses_are_classified(address: str, kind: str) -> None:
    assert classify_address(ip(address)) == kind


@pytest.mark.parametrize(
    "address",
    ["1.1.1.1", "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.15.255.255",
     "172.32.0.0", "192.169.0.1", "223.255.255.255"],
)  # fmt: skip
def test_public_ipv4_addresses_pass(address: str) -> None:
    assert classify_address(ip(address)) is None
    assert refusal_reason(ip(address)) is None


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fd12:3456:789a::1", "private"),
        ("fc00::1", "private"),
        ("fec0::1", "private"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("2001::1", "reserved"),  # Teredo
        ("100::1", "reserved"),
        ("64:ff9b:1::1", "private"),
        ("::2", "reserved"),  # outside 2000::/3 and not otherwise assigned
        ("4000::1", "reserved"),
    ],
)
def test_special_ipv6_addresses_are_classified(address: str, kind: str) -> None:
    assert classify_address(ip(address)) == kind


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:10.0.0.5", "IPv4-mapped private"),
        ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
        ("64:ff9b::192.168.0.1", "NAT64 private"),
        ("64:ff9b::7f00:1", "NAT64 loopback"),
        ("2002:7f00:1::1", "6to4 loopback"),
        ("2002:a00:5::", "6to4 private"),
    ],
)
def test_ipv6_forms_of_special_ipv4_addresses_are_refused(address: str, kind: str) -> None:
    assert classify_address(ip(address)) == kind


@pytest.mark.parametrize(
    "address",
    ["2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "::ffff:1.1.1.1",
     "64:ff9b::8.8.8.8", "2002:808:808::1"],
)  # fmt: skip
def test_public_ipv6_addresses_pass(address: str) -> None:
    assert classify_address(ip(address)) is None


def test_reason_reads_as_a_phrase() -> None:
    assert refusal_reason(ip("10.0.0.5")) == "a private address"
    assert refusal_reason(ip("::1")) == "a loopback address"
    assert refusal_reason(ip("::ffff:127.0.0.1")) == "an IPv4-mapped loopback address"
    assert refusal_reason(ip("0.0.0.0")) == "an unspecified address"


def test_allow_list_opens_exactly_its_networks() -> None:
    allowed = nets("127.0.0.1/32", "10.20.0.0/16")
    assert refusal_reason(ip("127.0.0.1"), allowed) is None
    assert refusal_reason(ip("10.20.3.4"), allowed) is None
    assert refusal_reason(ip("127.0.0.2"), allowed) == "a loopback address"
    assert refusal_reason(ip("10.21.0.1"), allowed) == "a private address"
    assert refusal_reason(ip("::1"), allowed) == "a loopback address"


def test_allow_list_covers_the_ipv4_address_an_ipv6_address_embeds() -> None:
    allowed = nets("127.0.0.0/8")
    assert is_allowed(ip("::ffff:127.0.0.1"), allowed)
    assert not is_allowed(ip("::ffff:10.0.0.1"), allowed)
    assert is_allowed(ip("::1"), nets("::1/128"))
    assert not is_allowed(ip("::1"), allowed)


# --- the network backend's check (resolution faked; connecting is tested on loopback) ---


def resolver(*answers: str) -> Resolver:
    async def resolve(host: str, port: int) -> Sequence[IPAddress]:
        return [ip(a) for a in answers]

    return resolve


def check(host: str, *answers: str, allowed: Sequence[str] = ()) -> list[IPAddress]:
    backend = GuardedNetworkBackend(nets(*allowed), resolve=resolver(*answers))
    return asyncio.run(backend.check_host(host, 80))


def test_host_resolving_to_a_private_address_is_refused_with_both_named() -> None:
    with pytest.raises(BlockedAddressError) as caught:
        check("intranet.example", "10.0.0.5")
    assert str(caught.value) == (
        "refused: intranet.example resolves to 10.0.0.5, a private address "
        "(allow it with TIDINGS_ALLOWED_NETWORKS)"
    )


def test_one_refused_address_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(BlockedAddressError, match=re.escape("169.254.169.254")):
        check("mixed.example", "93.184.216.34", "169.254.169.254")


def test_literal_addresses_are_checked_without_resolving() -> None:
    with pytest.raises(BlockedAddressError) as caught:
        check("10.0.0.5")  # the resolver would answer nothing
    assert str(caught.value) == (
        "refused: 10.0.0.5 is a private address (allow it with TIDINGS_ALLOWED_NETWORKS)"
    )
    with pytest.raises(BlockedAddressError, match=re.escape("::1 is a loopback address")):
        check("[::1]")


def test_allowed_and_public_addresses_are_returned_in_resolver_order() -> None:
    assert check("ok.example", "93.184.216.34", "127.0.0.1", allowed=["127.0.0.1/32"]) == [
        ip("93.184.216.34"),
        ip("127.0.0.1"),
    ]


def test_a_name_that_does_not_resolve_is_a_connection_error() -> None:
    async def fail(host: str, port: int) -> Sequence[IPAddress]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    backend = GuardedNetworkBackend(resolve=fail)
    with pytest.raises(FetchConnectionError) as caught:
        asyncio.run(backend.check_host("nowhere.invalid", 80))
    assert str(caught.value) == "cannot resolve host nowhere.invalid: Name or service not known"
