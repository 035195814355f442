"""The egress guard: model and embedding backends only on hosts the operator allows.

By default only loopback and private addresses (RFC 1918, IPv6 unique-local) are allowed: a
document or a question can then only leave the machine for the institution's own network.
The operator adds hosts or networks with ``SIYADA_EGRESS_ALLOW`` (comma-separated host
names, ``*.domain`` suffixes, IP addresses or CIDR networks). Names are resolved, and every
address they resolve to must be allowed, unless the name itself is allow-listed.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

ENV_EGRESS_ALLOW = "SIYADA_EGRESS_ALLOW"
_HOST = re.compile(r"(\*\.)?[a-z0-9][a-z0-9.-]*|[0-9a-f:.]+")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PRIVATE_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(block)
    for block in (
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
    )
)


class EgressRefused(Exception):
    """A backend call to a host that is not allowed; the message says how to allow it."""

    def __init__(self, message: str, host: str) -> None:
        super().__init__(message)
        self.host = host


def parse_allow_list(value: str) -> tuple[str, ...]:
    """``SIYADA_EGRESS_ALLOW``'s entries, checked; ValueError naming a bad one."""
    entries = tuple(entry.strip().lower() for entry in value.split(",") if entry.strip())
    for entry in entries:
        if "/" in entry:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{ENV_EGRESS_ALLOW}: {entry!r} is not a CIDR network") from None
        elif not _HOST.fullmatch(entry):
            raise ValueError(f"{ENV_EGRESS_ALLOW}: {entry!r} is not a host name or address")
    return entries


@dataclass(frozen=True)
class EgressPolicy:
    allow: tuple[str, ...] = ()
    """Extra hosts, ``*.suffixes``, addresses and networks, on top of the private ranges."""

    def _networks(self) -> Iterable[Network]:
        yield from PRIVATE_NETWORKS
        for entry in self.allow:
            if "/" in entry or _is_address(entry):
                yield ipaddress.ip_network(entry, strict=False)

    def _name_allowed(self, host: str) -> bool:
        return any(
            host == entry or (entry.startswith("*.") and host.endswith(entry[1:]))
            for entry in self.allow
        )

    def _address_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self._networks())

    def check(self, host: str) -> None:
        """Return if ``host`` may be called; raise EgressRefused if not."""
        host = host.strip("[]").lower().rstrip(".")
        if self._name_allowed(host):
            return
        if _is_address(host):
            addresses = [host]
        else:
            try:
                addresses = sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
            except (OSError, ValueError) as error:  # UnicodeError for names like "a..b"
                raise EgressRefused(f"cannot resolve {host!r} ({error})", host) from None
        refused = [address for address in addresses if not self._address_allowed(address)]
        if refused:
            raise EgressRefused(
                f"egress to {host} ({', '.join(refused)}) is not allowed: only loopback, private "
                f"networks and the hosts in {ENV_EGRESS_ALLOW} may receive prompts or documents; "
                f"the operator may add it, e.g. {ENV_EGRESS_ALLOW}={host}",
                host,
            )


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value.split("%")[0])
    except ValueError:
        return False
    return True


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport that checks every request's host against the policy first."""

    def __init__(self, policy: EgressPolicy, inner: httpx.BaseTransport | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.policy.check(request.url.host)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
