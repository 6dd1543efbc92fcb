"""`cidr` over IPv6 addresses whose last 32 bits are written as a dotted quad.

`::ffff:10.1.2.3` is the IPv4-mapped spelling of `::ffff:a01:203`: Python's `ipaddress` puts
both in `::/0` and `::ffff:0:0/96`, and neither in `10.0.0.0/8` (an IPv6 address is in IPv6
networks only). The engine must agree with it on every spelling.
"""

from __future__ import annotations

import ipaddress
import random

import polars as pl
import pytest
from sigma.collection import SigmaCollection

from auditlake.detection.code import pl_
from auditlake.detection.compile import compile_collection
from auditlake.detection.evaluate import RULE_ID_COLUMN, evaluate
from auditlake.detection.ip_networks import network_test

NETWORKS = ["::/0", "::ffff:0:0/96", "::ffff:10.1.2.128/121", "64:ff9b::/96", "2001:db8::/32", "10.0.0.0/8"]
ADDRESSES = [
    "::ffff:10.1.2.3", "::ffff:a01:203", "::FFFF:10.1.2.3", "::ffff:10.1.2.130", "::ffff:192.168.1.1",
    "::ffff:0.0.0.0", "::ffff:255.255.255.255", "::1.2.3.4", "64:ff9b::192.0.2.33", "1:2:3:4:5:6:1.2.3.4",
    "2001:db8::1", "10.1.2.3",
    # not addresses, for `ipaddress` as for the engine
    "::ffff:010.1.2.3", "::ffff:1.2.3.256", "::ffff:1.2.3", "1:2:3:4:5:6:7:1.2.3.4", "1.2.3.4::", ":1.2.3.4",
    "x:1.2.3.4", "::ffff:1.2.3.4.5",
]


def _expected(address: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network)
    except ValueError:
        return False


def _engine(addresses: list[str], network: str) -> list[bool]:
    frame = pl.DataFrame({"ip": addresses}, schema={"ip": pl.String})
    test = network_test(pl_.col("ip"), (network,))
    assert not isinstance(test, bool)
    return frame.select(test.to_expr().fill_null(False)).to_series().to_list()


@pytest.mark.parametrize("network", NETWORKS)
def test_dotted_quad_addresses_are_where_ipaddress_puts_them(network: str) -> None:
    assert _engine(ADDRESSES, network) == [_expected(a, network) for a in ADDRESSES]


def test_the_reported_rules_match_the_mapped_spelling() -> None:
    """`ip|cidr: '::/0'` and `'::ffff:0:0/96'` rules, as written in Sigma, over the addresses
    of the report."""
    rules = "---\n".join(
        f"title: v6 {n}\nid: 2ca74510-0410-51f0-9825-b8076aadb16{n}\nlogsource: {{product: teleport, service: audit}}\n"
        f"detection:\n  sel:\n    ip|cidr: '{network}'\n  condition: sel\n"
        for n, network in enumerate(["::/0", "::ffff:0:0/96"])
    )
    ruleset = compile_collection(SigmaCollection.from_yaml(rules))
    addresses = ["::ffff:10.1.2.3", "::ffff:a01:203", "2001:db8::1", "::ffff:10.1.2.130", "::ffff:192.168.1.1"]
    frame = pl.DataFrame({"event_uid": [f"e{i}" for i in range(len(addresses))], "ip": addresses})
    found = evaluate(list(ruleset.rules), frame.lazy()).collect()
    hits = {(uid, rule[-1]) for uid, rule in zip(found["event_uid"], found[RULE_ID_COLUMN], strict=True)}
    assert hits == {("e0", "0"), ("e1", "0"), ("e2", "0"), ("e3", "0"), ("e4", "0"),
                    ("e0", "1"), ("e1", "1"), ("e3", "1"), ("e4", "1")}


def _mapped(rng: random.Random) -> str:
    """An IPv6 address ending in a dotted quad, its leading groups written out or compressed,
    in either case, now and then with an octet out of range or written with a leading zero."""
    octets = [str(rng.choice([0, 1, 10, 127, 128, 130, 192, 255, rng.randint(0, 255)])) for _ in range(4)]
    if rng.random() < 0.3:
        octets[:3] = ["10", "1", "2"]
    if rng.random() < 0.1:
        octets[rng.randrange(4)] = rng.choice(["256", "010", "00"])
    quad = ".".join(octets)
    head = [rng.choice(["0", "ffff", "64", "ff9b", "2001", "db8", f"{rng.randint(0, 0xFFFF):x}"])
            for _ in range(rng.randint(0, 6))]
    mapped = rng.random()
    if mapped < 0.4:  # the common spellings: IPv4-mapped, and the NAT64 prefix
        text = ("::ffff:" if mapped < 0.3 else "64:ff9b::") + quad
    elif len(head) == 6 and rng.random() < 0.5:
        text = ":".join(head) + ":" + quad
    else:
        cut = rng.randint(0, min(len(head), 5))
        text = ":".join(head[:cut]) + "::" + "".join(g + ":" for g in head[cut:][: 5 - cut]) + quad
    return text.upper() if rng.random() < 0.2 else text


@pytest.mark.parametrize("network", NETWORKS)
def test_any_mapped_spelling_agrees_with_ipaddress(network: str) -> None:
    rng = random.Random(network)
    addresses = [_mapped(rng) for _ in range(3000)]
    assert sum(_expected(a, network) for a in addresses) > 50 or network in ("2001:db8::/32", "10.0.0.0/8")
    assert _engine(addresses, network) == [_expected(a, network) for a in addresses]
