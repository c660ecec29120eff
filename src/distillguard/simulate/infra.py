"""Where simulated traffic comes from: networks, addresses, user agents, TLS stacks.

Legitimate and attack traffic draw from the same catalogue on purpose: app backends run in the
same clouds that proxies rent, campus NATs put thousands of students behind one address, and
an open-source agent gives all its users one user agent and one TLS stack.

>>> import random
>>> net = Networks(seed=1)
>>> ip = net.address(random.Random(0), net.pick("residential", random.Random(1)))
>>> ip.count(".") == 3 or ":" in ip
True
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
from dataclasses import dataclass

# (asn, kind, country). Numbers are real-looking; the mapping to address blocks is synthetic.
_ASNS: tuple[tuple[int, str, str], ...] = (
    (16509, "datacenter", "US"),
    (14618, "datacenter", "US"),
    (15169, "datacenter", "US"),
    (8075, "datacenter", "US"),
    (14061, "datacenter", "NL"),
    (24940, "datacenter", "DE"),
    (16276, "datacenter", "FR"),
    (63949, "datacenter", "SG"),
    (45102, "datacenter", "SG"),
    (132203, "datacenter", "HK"),
    (20473, "datacenter", "US"),
    (7922, "residential", "US"),
    (7018, "residential", "US"),
    (701, "residential", "US"),
    (22773, "residential", "US"),
    (3320, "residential", "DE"),
    (3215, "residential", "FR"),
    (2856, "residential", "GB"),
    (5089, "residential", "GB"),
    (3352, "residential", "ES"),
    (12322, "residential", "FR"),
    (4766, "residential", "KR"),
    (2516, "residential", "JP"),
    (4713, "residential", "JP"),
    (9121, "residential", "TR"),
    (28573, "residential", "BR"),
    (55836, "residential", "IN"),
    (9829, "residential", "IN"),
    (4134, "residential", "HK"),
    (9304, "residential", "HK"),
    (17676, "residential", "JP"),
    (6830, "residential", "PL"),
    (1221, "residential", "AU"),
    (812, "residential", "CA"),
    (11537, "education", "US"),
    (2152, "education", "US"),
    (786, "education", "GB"),
    (680, "education", "DE"),
    (2200, "education", "FR"),
    (4538, "education", "CN"),
    (7539, "education", "TW"),
    (3356, "corporate", "US"),
    (6453, "corporate", "GB"),
    (1299, "corporate", "SE"),
    (174, "corporate", "US"),
    (2914, "corporate", "JP"),
)


@dataclass(frozen=True)
class Network:
    asn: int
    kind: str
    country: str
    blocks: tuple[ipaddress.IPv4Network, ...]
    v6: ipaddress.IPv6Network


class Networks:
    """A deterministic catalogue of autonomous systems with address blocks."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"networks:{seed}")
        used: set[int] = set()
        self.all: list[Network] = []
        for asn, kind, country in _ASNS:
            blocks = []
            for _ in range(3):
                first = rng.choice(
                    [n for n in range(11, 223) if n not in (100, 127, 169, 172, 192)]
                )
                second = rng.randrange(256)
                while (first << 8 | second) in used:
                    second = rng.randrange(256)
                used.add(first << 8 | second)
                blocks.append(ipaddress.IPv4Network(f"{first}.{second}.0.0/16"))
            v6 = ipaddress.IPv6Network(f"2a0{rng.randrange(10)}:{rng.randrange(1 << 16):x}::/32")
            self.all.append(Network(asn, kind, country, tuple(blocks), v6))
        self.by_kind: dict[str, list[Network]] = {}
        for net in self.all:
            self.by_kind.setdefault(net.kind, []).append(net)

    def pick(self, kind: str, rng: random.Random, country: str | None = None) -> Network:
        nets = self.by_kind[kind]
        local = [n for n in nets if n.country == country] if country else []
        return rng.choice(local or nets)

    def address(self, rng: random.Random, net: Network, v6_share: float = 0.0) -> str:
        """A random host address in one of the network's blocks."""
        if net.kind == "residential" and rng.random() < v6_share:
            host = rng.getrandbits(96)
            return str(net.v6.network_address + (host | 1))
        block = rng.choice(net.blocks)
        return str(block.network_address + rng.randrange(1, 65535))


# Client stacks: (user agent, TLS fingerprint). Versions vary so that one SDK is not one value.
_SDKS = (
    ("OpenAI/Python {v}", "t13d1516h2_8daaf6152771_{h}", ("1.54.3", "1.59.7", "1.61.0", "2.3.1")),
    ("AsyncOpenAI/Python {v}", "t13d1516h2_8daaf6152771_{h}", ("1.59.7", "2.3.1")),
    ("OpenAI/JS {v}", "t13d1715h2_5b57614c22b0_{h}", ("4.73.1", "4.77.0", "5.1.0")),
    ("Anthropic/Python {v}", "t13d1516h2_8daaf6152771_{h}", ("0.40.0", "0.49.0", "0.62.1")),
    ("Anthropic/JS {v}", "t13d1715h2_5b57614c22b0_{h}", ("0.32.1", "0.39.0")),
    ("python-requests/{v}", "t13d1812h2_85036bcba153_{h}", ("2.31.0", "2.32.3")),
    ("python-httpx/{v}", "t13d1516h2_8daaf6152771_{h}", ("0.27.2", "0.28.1")),
    ("curl/{v}", "t13d3112h2_e8f1e7e78f70_{h}", ("8.5.0", "8.11.1")),
    ("langchain-openai/{v}", "t13d1516h2_8daaf6152771_{h}", ("0.2.14", "0.3.7")),
    ("Go-http-client/{v}", "t13d1311h2_f57a46bbacb6_{h}", ("2.0",)),
    ("okhttp/{v}", "t13d1713h2_9b9a1ab4e4d1_{h}", ("4.12.0",)),
)


@dataclass(frozen=True)
class ClientStack:
    user_agent: str
    tls_fingerprint: str


def client_stack(rng: random.Random, prefer: str | None = None) -> ClientStack:
    """A plausible SDK (optionally one whose name contains ``prefer``) with a matching TLS stack."""
    sdks = [s for s in _SDKS if prefer and prefer.lower() in s[0].lower()] or list(_SDKS)
    ua, tls, versions = rng.choice(sdks)
    v = rng.choice(versions)
    digest = _stable_hex(tls + v)
    return ClientStack(ua.format(v=v), tls.format(h=digest))


def agent_stack(name: str, version: str) -> ClientStack:
    """An open-source agent: one user agent and one TLS stack shared by all its users."""
    return ClientStack(f"{name}/{version}", f"t13d1516h2_8daaf6152771_{_stable_hex(name)}")


def custom_stack(rng: random.Random) -> ClientStack:
    """A home-made harvesting client: an unusual but not absurd user agent."""
    base = rng.choice(
        ("python-httpx/0.27.0", "aiohttp/3.9.5", "node-fetch/1.0", "Go-http-client/2.0")
    )
    return ClientStack(base, f"t13d{rng.randrange(1000, 9999)}h2_{_stable_hex(str(rng.random()))}")


def _stable_hex(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
