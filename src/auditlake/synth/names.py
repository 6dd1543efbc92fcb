"""Static vocabularies of the synthetic organisation: people's names, offices, departments, repos.

Kept apart from `org.py` so that the builder reads as logic and these read as data. Addresses
use the documentation ranges (RFC 5737: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) and the
`.example` domain, so nothing generated points at a real network or company.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Office:
    """Where a person works: place, Okta geo context, UTC offset (standard time) and egress IP."""

    code: str
    city: str
    state: str
    country: str
    country_code: str
    postal_code: str
    lat: float
    lon: float
    utc_offset: float
    egress_ip: str


@dataclass(frozen=True, slots=True)
class Department:
    """A department: its size, how many run Windows laptops, and which systems its people use.

    `uses` maps a system (aws, k8s, github, gcp, gateway, linux) to the share of the
    department that uses it; `aws_set` is its IAM Identity Center permission set.
    """

    name: str
    share: float
    windows_share: float
    uses: tuple[tuple[str, float], ...]
    aws_set: str


OFFICES: tuple[Office, ...] = (
    Office("sfo", "San Francisco", "California", "United States", "US", "94105", 37.7897, -122.3972, -8, "198.51.100.10"),
    Office("nyc", "New York", "New York", "United States", "US", "10001", 40.7506, -73.9972, -5, "198.51.100.20"),
    Office("lon", "London", "England", "United Kingdom", "GB", "EC2A", 51.5226, -0.0823, 0, "198.51.100.30"),
    Office("ber", "Berlin", "Berlin", "Germany", "DE", "10115", 52.5321, 13.3849, 1, "198.51.100.40"),
    Office("blr", "Bengaluru", "Karnataka", "India", "IN", "560001", 12.9716, 77.5946, 5.5, "198.51.100.50"),
)
OFFICE_WEIGHTS: tuple[float, ...] = (0.34, 0.22, 0.18, 0.12, 0.14)

DEPARTMENTS: tuple[Department, ...] = (
    Department("Engineering", 0.34, 0.20, (("aws", 0.9), ("k8s", 0.55), ("github", 1.0), ("gcp", 0.2), ("gateway", 0.5), ("linux", 0.3)), "Developer"),
    Department("SRE", 0.08, 0.10, (("aws", 1.0), ("k8s", 1.0), ("github", 0.8), ("gcp", 0.5), ("gateway", 1.0), ("linux", 1.0)), "PlatformAdmin"),
    Department("Data", 0.10, 0.30, (("aws", 0.4), ("gcp", 1.0), ("github", 0.6), ("gateway", 0.9)), "DataEngineer"),
    Department("Security", 0.04, 0.50, (("aws", 0.8), ("k8s", 0.4), ("github", 0.4), ("gcp", 0.4), ("gateway", 0.4), ("linux", 0.4)), "SecurityAudit"),
    Department("IT", 0.04, 1.00, (("aws", 0.2),), "ReadOnly"),
    Department("Sales", 0.16, 0.80, (), "ReadOnly"),
    Department("Finance", 0.07, 0.90, (("gateway", 0.2),), "ReadOnly"),
    Department("HR", 0.05, 0.90, (), "ReadOnly"),
    Department("Marketing", 0.07, 0.60, (), "ReadOnly"),
    Department("Support", 0.05, 0.85, (("gateway", 0.3),), "ReadOnly"),
)

FIRST_NAMES: tuple[str, ...] = (
    "Aaliyah", "Aarav", "Ada", "Adrian", "Aisha", "Akira", "Alejandro", "Alice", "Amara", "Ana",
    "Andre", "Anika", "Arjun", "Ava", "Ben", "Bianca", "Carlos", "Chen", "Chloe", "Daniel",
    "Daria", "David", "Diego", "Elena", "Eli", "Emma", "Fatima", "Felix", "Freya", "Gabriel",
    "Grace", "Hana", "Hannah", "Hugo", "Ibrahim", "Ines", "Isaac", "Ivan", "Jamal", "Jana",
    "Jin", "Jonas", "Julia", "Kai", "Kenji", "Lara", "Leo", "Liam", "Lina", "Lucas",
    "Maya", "Mei", "Mia", "Mohammed", "Nadia", "Nia", "Noah", "Nora", "Omar", "Priya",
    "Rafael", "Ravi", "Rosa", "Sami", "Sara", "Sofia", "Tariq", "Theo", "Uma", "Victor",
    "Wei", "Yara", "Yusuf", "Zara", "Zoe", "Oliver", "Ingrid", "Mateo", "Leila", "Tomas",
)
LAST_NAMES: tuple[str, ...] = (
    "Abbott", "Adeyemi", "Ahmed", "Andersen", "Bauer", "Becker", "Brennan", "Castillo", "Chen",
    "Costa", "Dalton", "Das", "Dubois", "Eriksson", "Evans", "Fischer", "Garcia", "Gupta", "Haas",
    "Hansen", "Hughes", "Ibarra", "Iyer", "Jansen", "Kapoor", "Kim", "Kowalski", "Larsen", "Lee",
    "Lopez", "Meyer", "Mishra", "Moreau", "Murphy", "Nakamura", "Nguyen", "Novak", "Okafor",
    "Olsen", "Patel", "Perez", "Quinn", "Rao", "Reyes", "Richter", "Rossi", "Santos", "Sato",
    "Schmidt", "Shah", "Silva", "Singh", "Sokolov", "Suzuki", "Tanaka", "Torres", "Vargas",
    "Wagner", "Walsh", "Wang", "Weber", "Wong", "Yamamoto", "Young", "Zhang", "Zimmermann",
)

REPO_PREFIXES: tuple[str, ...] = (
    "payments", "checkout", "billing", "orders", "catalog", "search", "auth", "identity",
    "notifications", "ledger", "pricing", "inventory", "shipping", "analytics", "reporting",
    "web", "mobile", "admin", "infra", "platform", "data", "ml", "fraud", "support",
)
REPO_SUFFIXES: tuple[str, ...] = (
    "api", "service", "worker", "frontend", "sdk", "terraform", "helm", "pipelines", "jobs", "docs",
)

K8S_NAMESPACES: tuple[str, ...] = (
    "payments", "checkout", "orders", "catalog", "web", "auth", "data-pipeline", "monitoring",
    "argocd", "ingress-nginx", "cert-manager", "kube-system", "default",
)

SERVICE_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("github", "github-actions[bot]", "41898282", "CI checkouts and workflow runs"),
    ("github", "dependabot[bot]", "49699333", "dependency update pull requests"),
    ("okta", "SCIM provisioning", "0oa1scimprovision001", "user provisioning integration (client credentials)"),
    ("okta", "terraform-okta", "0oa1terraformokta001", "Okta configuration as code"),
    ("gateway", "bot-etl", "bot-etl", "machine identity running nightly and hourly ETL queries"),
    ("k8s", "argocd-application-controller", "argocd", "GitOps sync of every namespace"),
    ("k8s", "prometheus-k8s", "monitoring", "service discovery for metrics scraping"),
    ("k8s", "cert-manager", "cert-manager", "TLS certificate renewal"),
)
"""Machine identities outside AWS and GCP: (system, name, native id or namespace, purpose).
AWS roles and GCP service accounts are built with their accounts and projects in `org`."""

ATTACKER_ORIGINS: tuple[tuple[str, str, str, str], ...] = (
    ("192.0.2.17", "Netherlands", "Amsterdam", "NL"),
    ("192.0.2.45", "Brazil", "Sao Paulo", "BR"),
    ("192.0.2.88", "Vietnam", "Hanoi", "VN"),
    ("192.0.2.131", "Romania", "Bucharest", "RO"),
    ("192.0.2.203", "Nigeria", "Lagos", "NG"),
)
"""(IP, country, city, ISO code) of origins no employee works from."""
