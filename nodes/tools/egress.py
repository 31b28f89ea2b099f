"""Where tools may connect: public addresses only, unless the operator says otherwise.

A spec author names hosts (`allow_hosts`); that list can only narrow the operator's
(`ROUTEGRAPH_TOOL_ALLOWED_HOSTS`). Whatever the lists say, a host is resolved before any
connection and refused when one of its addresses is loopback, private, link-local (cloud
metadata lives there), multicast, reserved or otherwise not globally routable, including
IPv4 addresses hidden inside IPv6 ones, unless the operator allows that network
(`ROUTEGRAPH_TOOL_ALLOWED_NETWORKS`). The caller then connects to the address that was
checked, never to a name resolved a second time (no DNS rebinding between check and use).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from nodes.tools.base import ToolError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Names that mean "this machine" or a cloud's metadata service whatever DNS says.
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal")
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
NETWORKS_SETTING = "ROUTEGRAPH_TOOL_ALLOWED_NETWORKS"
HOSTS_SETTING = "ROUTEGRAPH_TOOL_ALLOWED_HOSTS"


class EgressRefused(ToolError):
    """A connection the egress policy does not allow; the message says why."""


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64, Teredo client)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_kind(ip: IPAddress) -> str | None:
    """Why `ip` is not a public address ("loopback", "cloud metadata", ...), or None."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        kind = address_kind(inner)
        return f"{kind} (inside {ip})" if kind else None
    if ip in _METADATA:
        return "cloud metadata"
    for kind, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return kind
    return None if ip.is_global else "not globally routable"


def parse_host_entry(entry: str) -> tuple[str, int | None]:
    """'host' or 'host:port' (IPv6 literals in brackets) as (host, port)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host.lower(), int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = entry.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host.lower(), int(port)
    return entry.lower(), None


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True)
class EgressPolicy:
    """The operator's rules for outbound tool connections (settings, never a spec)."""

    # Empty: any host whose addresses are public. Otherwise the only hosts tools may name.
    allowed_hosts: tuple[str, ...] = ()
    # Non-public networks tools may reach anyway (an internal API, a test server).
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_lists(cls, hosts: Iterable[str], networks: Iterable[str]) -> EgressPolicy:
        """From settings' lists; a malformed network is a ValueError naming it."""
        parsed: list[IPNetwork] = []
        for network in networks:
            try:
                parsed.append(ipaddress.ip_network(network.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(f"{NETWORKS_SETTING}: {network!r} is not a network") from exc
        return cls(tuple(h.strip().lower() for h in hosts if h.strip()), tuple(parsed))

    def covers(self, host: str, port: int | None) -> bool:
        """Whether the operator's host list lets a spec name `host` (and `port`)."""
        if not self.allowed_hosts:
            return True
        for entry in self.allowed_hosts:
            name, allowed_port = parse_host_entry(entry)
            if name == host.lower() and (allowed_port is None or allowed_port == port):
                return True
        return False

    def address_problem(self, ip: IPAddress) -> str | None:
        """Why a connection to `ip` is refused, or None when it is allowed."""
        if any(ip in network for network in self.allowed_networks):
            return None
        kind = address_kind(ip)
        if kind is None:
            return None
        return f"{ip} is a {kind} address (the operator can allow it in {NETWORKS_SETTING})"

    def host_problem(self, host: str, port: int | None = None) -> str | None:
        """What is known to be refused before any DNS lookup: the operator's host list,
        IP literals, and names that always mean this machine."""
        if not self.covers(host, port):
            shown = f"{host}:{port}" if port else host
            return f"{shown} is not among the operator's hosts ({HOSTS_SETTING})"
        ip = _literal_ip(host)
        if ip is not None:
            return self.address_problem(ip)
        name = host.lower().rstrip(".")
        if name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES):
            if any(_is_loopback_network(n) for n in self.allowed_networks):
                return None
            return f"{host} names this machine or an internal service"
        return None

    async def resolve(self, host: str, port: int) -> IPAddress:
        """The address to connect to: every address `host` resolves to must be allowed."""
        problem = self.host_problem(host, port)
        if problem:
            raise EgressRefused(problem)
        ip = _literal_ip(host)
        if ip is not None:
            return ip
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ToolError(f"cannot resolve {host!r}: {exc.strerror}") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
        for address in addresses:
            problem = self.address_problem(address)
            if problem:
                raise EgressRefused(f"{host} resolves to {problem}")
        if not addresses:
            raise ToolError(f"cannot resolve {host!r}: no addresses")
        return addresses[0]


def _is_loopback_network(network: IPNetwork) -> bool:
    return network.network_address.is_loopback
