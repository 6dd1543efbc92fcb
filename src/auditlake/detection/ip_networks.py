"""IP network membership in pure Polars, for Sigma's `cidr` modifier.

IPv4 text becomes a number compared with each network's range; IPv6 text in any spelling
(`::` gaps, leading zeros dropped, zone ids, the last 32 bits as a dotted quad:
`::ffff:10.1.2.3`) becomes its 32 hex digits compared by prefix. Anything that is not an
address is null, so the test is false. As in Python's `ipaddress`, an IPv4-mapped IPv6
address is in IPv6 networks (`::ffff:0:0/96`), not in IPv4 ones.
"""

from __future__ import annotations

import ipaddress

from auditlake.detection.code import Code, binop, pl_

_IPV4 = r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$"
_OCTET = r"(0|[1-9][0-9]{0,2})"
_EMBEDDED_IPV4 = rf"^(.*:){_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"
"""IPv6 text ending in a dotted quad, which stands for its last two groups (decimal octets
without leading zeros, as `ipaddress` reads them)."""
_HEX_DIGITS = "0123456789abcdef"
_IPV6_SHAPE = r"^(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?(?:::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?)?$"
"""Hex groups joined by single colons, with at most one `::`: no `:::`, no stray edge colon."""


def network_test(text: Code, networks: tuple[object, ...]) -> Code | bool:
    """Whether the text is an address in one of `networks` (IPv4 or IPv6 CIDR, any spelling)."""
    v4 = [ipaddress.ip_network(str(n)) for n in networks if ipaddress.ip_network(str(n)).version == 4]
    v6 = [str(n) for n in networks if ipaddress.ip_network(str(n)).version == 6]
    tests: list[Code] = []
    if v4:
        number = _ipv4_number(text)
        for network in v4:
            low = int(network.network_address)
            high = int(network.broadcast_address)
            tests.append(number.is_between(low, high))
    if v6:
        digits = _ipv6_hex(text)
        for network6 in v6:
            tests.append(_hex_prefix_test(digits, ipaddress.IPv6Network(network6)))
    if not tests:
        return False
    return tests[0] if len(tests) == 1 else pl_.any_horizontal(*tests)


def _ipv4_number(text: Code) -> Code:
    """Dotted-quad text as an integer; anything else (octet > 255, IPv6, names) is null."""
    groups = text.str.extract_groups(_IPV4)
    octets = [groups.struct.field(str(i)).cast(pl_.Int64) for i in range(1, 5)]
    total = binop(
        "+",
        binop("+", binop("*", octets[0], 16777216), binop("*", octets[1], 65536)),
        binop("+", binop("*", octets[2], 256), octets[3]),
    )
    valid = binop("<=", pl_.max_horizontal(*octets), 255)
    return pl_.when(valid).then(total)


def _ipv6_hex(text: Code) -> Code:
    """An IPv6 address in any spelling as its 32 lowercase hex digits, else null.

    `fe80::1%eth0` → `fe80` + 27 zeros + `1`: the `::` gap is filled with as many zero groups
    as the written groups leave free, and every group is padded to four digits, so networks
    compare by prefix whatever spelling the log used. A trailing dotted quad is its two
    groups (`::ffff:10.1.2.3` is `::ffff:0a01:0203`).
    """
    address = _quad_as_groups(text.str.to_lowercase().str.replace(r"%.*$", ""))
    halves = address.str.split("::")

    def groups(half: Code) -> Code:
        return half.str.split(":").list.eval(pl_.element().filter(binop("!=", pl_.element(), "")))

    left, right = groups(halves.list.first()), groups(halves.list.last())
    gap = binop("==", halves.list.len(), 2)
    missing = binop("-", binop("-", 8, left.list.len()), right.list.len())
    filled = pl_.concat_list(left, pl_.lit("0").repeat_by(missing), right)
    written = pl_.when(gap).then(filled).otherwise(address.str.split(":"))
    digits = written.list.eval(pl_.element().str.zfill(4)).list.join("")
    well_formed = address.str.contains(_IPV6_SHAPE)
    shape_ok = binop("==", written.list.len(), 8) & binop("==", digits.str.len_chars(), 32)
    shape_ok = shape_ok & (~gap | binop(">", missing, 0))  # `::` stands for at least one group
    return pl_.when(well_formed & shape_ok).then(digits)


def _quad_as_groups(address: Code) -> Code:
    """The address with a trailing dotted quad written as two hex groups; unchanged without
    one, still dotted (so no address) when an octet exceeds 255."""
    parts = address.str.extract_groups(_EMBEDDED_IPV4)
    octets = [parts.struct.field(str(i)).cast(pl_.Int64) for i in range(2, 6)]
    digits = [pl_.lit(_HEX_DIGITS).str.slice(part, 1) for o in octets for part in (o.floordiv(16), o.mod(16))]
    groups = pl_.concat_str(parts.struct.field("1"), *digits[:4], pl_.lit(":"), *digits[4:])
    valid = binop("<=", pl_.max_horizontal(*octets), 255)
    return pl_.coalesce(pl_.when(valid).then(groups), address)


def _hex_prefix_test(digits: Code, network: ipaddress.IPv6Network) -> Code:
    """Whether 32 hex digits fall in `network`: whole nibbles by prefix, the last one by set."""
    full = network.network_address.exploded.replace(":", "")
    whole, spare_bits = divmod(network.prefixlen, 4)
    test = digits.str.starts_with(full[:whole])
    if spare_bits:
        nibble = int(full[whole], 16)
        keep = 0xF ^ ((1 << (4 - spare_bits)) - 1)
        allowed = [f"{n:x}" for n in range(16) if n & keep == nibble & keep]
        test = test & digits.str.slice(whole, 1).is_in(allowed)
    return test
