"""Where outbound calls (webhook steps) may go (SPEC §8): never to loopback,
private, link-local, multicast, unspecified, carrier-grade NAT or reserved
addresses, nor to an IPv6 form that embeds one of them, unless the operator
lists that host and port in GOALFLOW_WEBHOOK_ALLOWED_HOSTS.

Pure: the worker resolves the name, asks `refusal` of each address, and
connects to the very address it checked (`worker/webhooks.py`)."""

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Address = IPv4Address | IPv6Address
Allowed = frozenset[tuple[str, int]]

# Named, so that a refusal says which range the address is in.
_IPV4: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), kind)
    for net, kind in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        # Class E and the broadcast address 255.255.255.255.
        ("240.0.0.0/4", "reserved"),
    )
)
_IPV6: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), kind)
    for net, kind in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        # IPv4-compatible (deprecated): no host has one.
        ("::/96", "reserved"),
        ("64:ff9b:1::/48", "private"),
        ("100::/64", "reserved"),
        ("2001::/32", "Teredo"),
        ("2001:db8::/32", "documentation"),
        ("fc00::/7", "private"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "private"),
        ("ff00::/8", "multicast"),
    )
)
# IPv6 forms that carry an IPv4 address, which is what they reach.
_NAT64 = IPv6Network("64:ff9b::/96")


def refusal(address: Address) -> str | None:
    """Why a call may not go to `address` (its kind and range), or None."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            why = refusal(embedded)
            return f"{why}, as {_form(address)}" if why else None
        table: tuple[tuple[IPv4Network | IPv6Network, str], ...] = _IPV6
    else:
        table = _IPV4
    for network, kind in table:
        if address in network:
            return f"a {kind} address ({network})"
    return None


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _form(address: IPv6Address) -> str:
    if address.ipv4_mapped is not None:
        return "an IPv4-mapped IPv6 address"
    if address in _NAT64:
        return "a NAT64 IPv6 address"
    return "a 6to4 IPv6 address"


def parse_address(text: str) -> Address | None:
    """An IP address as a resolver or a URL writes it (brackets, a zone), or None."""
    try:
        return ip_address(text.strip("[]").partition("%")[0])
    except ValueError:
        return None


def parse_allowed(text: str) -> Allowed:
    """GOALFLOW_WEBHOOK_ALLOWED_HOSTS: `host:port` pairs, comma-separated
    (`127.0.0.1:8080,[::1]:8080,crm.internal:443`)."""
    allowed = set()
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        host, colon, port = entry.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"'{entry}' is not host:port, such as 127.0.0.1:8080 or [::1]:8080")
        if ":" in host and not (host.startswith("[") and host.endswith("]")):
            raise ValueError(f"'{entry}': an IPv6 address goes in brackets, such as [::1]:8080")
        allowed.add((_host_key(host), int(port)))
    return frozenset(allowed)


def is_allowed(allowed: Allowed, host: str, address: Address, port: int) -> bool:
    """Whether the operator listed this host name, or this address, with this port."""
    return (_host_key(host), port) in allowed or (_host_key(str(address)), port) in allowed


def _host_key(host: str) -> str:
    """One spelling per host: a name in lower case without a trailing dot, an
    address in its compressed form (an IPv4-mapped one as its IPv4 address)."""
    address = parse_address(host)
    if address is None:
        return host.lower().rstrip(".")
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)
