"""The synthetic organisation: people, machines, accounts and the systems they log into.

Everything the activity generators and attack scenarios talk about is decided here, once, from
`random.Random(seed)`: who works where and when, which laptop each person has, which AWS
accounts, GCP projects, Kubernetes namespaces, GitHub repositories, Windows and Linux hosts
and databases exist. Generators only read it, so a seed fixes the whole cast.

>>> org = build_org(7)
>>> len(org.people), org.people[0].email.endswith("@kestrel.example")
(360, True)
>>> build_org(7) == org, build_org(8) == org
(True, False)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from auditlake.synth import ids
from auditlake.synth.names import (
    DEPARTMENTS,
    FIRST_NAMES,
    K8S_NAMESPACES,
    LAST_NAMES,
    OFFICE_WEIGHTS,
    OFFICES,
    REPO_PREFIXES,
    REPO_SUFFIXES,
    SERVICE_ACCOUNTS,
    Office,
)

DOMAIN = "kestrel.example"
AD_DOMAIN = "CORP"
AD_SUFFIX = "corp.kestrel.example"
GITHUB_ORG = "kestrel-labs"
OKTA_ORG = "kestrel.okta.example"
TELEPORT_CLUSTER = "teleport.kestrel.example"


@dataclass(frozen=True, slots=True)
class Person:
    """An employee, with an identity in every system they use.

    `shift_h` moves their working day earlier or later than the office's; `activity` scales how
    much they do (log-normal: a few people are much busier than most).
    """

    index: int
    login: str
    display_name: str
    email: str
    sam: str
    department: str
    office: Office
    shift_h: int
    activity: float
    okta_id: str
    github: str
    github_id: int
    laptop: str
    laptop_os: str
    home_ip: str
    windows_sid: str
    unix_uid: int
    uses: frozenset[str]
    aws_set: str
    admin: bool

    @property
    def unix_login(self) -> str:
        """The Linux account name: the unique `sam`, since first names repeat (three `liam`s
        with three uids would be one account name on a real host)."""
        return self.sam


@dataclass(frozen=True, slots=True)
class AwsAccount:
    account_id: str
    alias: str


@dataclass(frozen=True, slots=True)
class AwsRole:
    """An IAM role; `kind` says who assumes it (sso, service, ci, cross_account)."""

    name: str
    account_id: str
    role_id: str
    kind: str
    path: str = "/"

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role{self.path}{self.name}"


@dataclass(frozen=True, slots=True)
class AwsUser:
    """A long-lived IAM user (break-glass, legacy integrations): the targets of key abuse."""

    name: str
    account_id: str
    user_id: str
    access_key: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:user/{self.name}"


@dataclass(frozen=True, slots=True)
class GcpProject:
    project_id: str
    number: str
    buckets: tuple[str, ...]
    datasets: tuple[str, ...]
    service_accounts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Host:
    """A Windows or Linux machine; `owner` is the login of a laptop's user, '' for servers."""

    name: str
    fqdn: str
    kind: str
    ip: str
    owner: str = ""


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """A machine identity: the system it lives in, its name, native id (or k8s namespace), why."""

    system: str
    name: str
    ident: str
    purpose: str


@dataclass(frozen=True, slots=True)
class Database:
    """A database reachable through the access gateway."""

    service: str
    protocol: str
    uri: str
    name: str
    tables: tuple[str, ...]
    users: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Org:
    """The whole cast. Tuples only, so an `Org` is hashable, comparable and safely shared."""

    seed: int
    people: tuple[Person, ...]
    groups: tuple[tuple[str, tuple[str, ...]], ...]
    aws_accounts: tuple[AwsAccount, ...]
    aws_roles: tuple[AwsRole, ...]
    aws_users: tuple[AwsUser, ...]
    gcp_projects: tuple[GcpProject, ...]
    namespaces: tuple[str, ...]
    k8s_nodes: tuple[str, ...]
    repos: tuple[str, ...]
    windows_hosts: tuple[Host, ...]
    linux_hosts: tuple[Host, ...]
    databases: tuple[Database, ...]
    service_accounts: tuple[ServiceAccount, ...]

    def users_of(self, system: str) -> tuple[Person, ...]:
        """People who use `system` (aws, k8s, github, gcp, gateway, linux, okta, windows)."""
        return tuple(p for p in self.people if system in p.uses)

    def roles(self, kind: str) -> tuple[AwsRole, ...]:
        return tuple(r for r in self.aws_roles if r.kind == kind)

    def person(self, login: str) -> Person:
        return next(p for p in self.people if p.login == login)

    def machine(self, system: str, name: str) -> ServiceAccount:
        """The service account `name` of `system` (see `names.SERVICE_ACCOUNTS`)."""
        return next(s for s in self.service_accounts if s.system == system and s.name == name)


def build_org(seed: int, *, size: int = 360) -> Org:
    """The organisation for `seed`: `size` people and the estate around them."""
    rng = random.Random(f"org:{seed}")
    people = _people(rng, size)
    accounts = tuple(
        AwsAccount(ids.numeric_id(rng, 12), alias)
        for alias in ("kestrel-prod", "kestrel-staging", "kestrel-dev", "kestrel-security", "kestrel-shared")
    )
    return Org(
        seed=seed,
        people=people,
        groups=_groups(people),
        aws_accounts=accounts,
        aws_roles=_aws_roles(rng, accounts),
        aws_users=_aws_users(rng, accounts[0]),
        gcp_projects=_gcp_projects(rng),
        namespaces=K8S_NAMESPACES,
        k8s_nodes=tuple(f"ip-10-20-{rng.randrange(0, 64)}-{rng.randrange(2, 254)}.ec2.internal" for _ in range(12)),
        repos=_repos(rng),
        windows_hosts=_windows_hosts(rng, people),
        linux_hosts=_linux_hosts(rng),
        databases=_databases(),
        service_accounts=tuple(ServiceAccount(*row) for row in SERVICE_ACCOUNTS),
    )


def _people(rng: random.Random, size: int) -> tuple[Person, ...]:
    people: list[Person] = []
    seen: set[str] = set()
    sams: set[str] = set()
    dept_weights = [d.share for d in DEPARTMENTS]
    while len(people) < size:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        login = f"{first}.{last}".lower()
        if login in seen:
            continue
        seen.add(login)
        dept = rng.choices(DEPARTMENTS, weights=dept_weights)[0]
        office = rng.choices(OFFICES, weights=OFFICE_WEIGHTS)[0]
        index = len(people)
        sam = _unique((first[0] + last).lower()[:16], sams)
        os_name = "windows" if rng.random() < dept.windows_share else rng.choice(("macos", "macos", "macos", "linux"))
        uses = {name for name, share in dept.uses if rng.random() < share} | {"okta"}
        if os_name == "windows":
            uses.add("windows")
        people.append(Person(
            index=index,
            login=login,
            display_name=f"{first} {last}",
            email=f"{login}@{DOMAIN}",
            sam=sam,
            department=dept.name,
            office=office,
            shift_h=rng.choice((-1, 0, 0, 0, 1)),
            activity=round(rng.lognormvariate(0, 0.5), 4),
            okta_id=ids.okta_id(rng),
            github=f"{sam}-kl" if "github" in uses else "",
            github_id=rng.randrange(1_000_000, 150_000_000),
            laptop=f"{'WS' if os_name == 'windows' else 'MB'}-{sam.upper()[:10]}{index:03d}",
            laptop_os=os_name,
            home_ip=_home_ip(rng),
            windows_sid=f"S-1-5-21-3623811015-3361044348-30300820-{1104 + index}",
            unix_uid=2000 + index,
            uses=frozenset(uses),
            aws_set=dept.aws_set,
            admin=dept.name in ("SRE", "IT", "Security") and rng.random() < 0.5,
        ))
    return tuple(people)


def _unique(base: str, taken: set[str]) -> str:
    """`base`, or `base` with the smallest number that makes it unused; recorded as taken."""
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}{n}"
    taken.add(name)
    return name


def _home_ip(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return f"203.0.113.{rng.randrange(1, 200)}"
    return f"198.51.100.{rng.randrange(64, 255)}"


def _groups(people: tuple[Person, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Okta groups: one per department, one per system, and the admin groups."""
    names = sorted({p.department for p in people})
    groups = [(f"dept-{n.lower()}", tuple(p.login for p in people if p.department == n)) for n in names]
    for system in ("aws", "k8s", "github", "gcp", "gateway", "linux"):
        groups.append((f"app-{system}-users", tuple(p.login for p in people if system in p.uses)))
    groups.append(("admins", tuple(p.login for p in people if p.admin)))
    groups.append(("Everyone", tuple(p.login for p in people)))
    return tuple(groups)


def _aws_roles(rng: random.Random, accounts: tuple[AwsAccount, ...]) -> tuple[AwsRole, ...]:
    roles: list[AwsRole] = []
    sso_path = "/aws-reserved/sso.amazonaws.com/"
    for account in accounts:
        for pset in ("Developer", "PlatformAdmin", "DataEngineer", "SecurityAudit", "ReadOnly"):
            name = f"AWSReservedSSO_{pset}_{ids.hex_id(rng, 8)}"
            roles.append(AwsRole(name, account.account_id, ids.aws_key_id(rng, "AROA"), "sso", sso_path))
    prod = accounts[0].account_id
    for name, kind in (
        ("github-actions-deployer", "ci"), ("terraform-apply", "ci"),
        ("datadog-integration", "monitoring"), ("eks-node-group-role", "service"),
        ("orders-api-task-role", "service"), ("payments-worker-task-role", "service"),
        ("lambda-image-resizer", "service"), ("lambda-invoice-export", "service"),
        ("backup-operator", "service"), ("security-scanner", "monitoring"),
        ("OrganizationAccountAccessRole", "cross_account"),
    ):
        roles.append(AwsRole(name, prod, ids.aws_key_id(rng, "AROA"), kind))
    config_path = "/aws-service-role/config.amazonaws.com/"
    roles.append(AwsRole("AWSServiceRoleForConfig", prod, ids.aws_key_id(rng, "AROA"), "config", config_path))
    return tuple(roles)


def _aws_users(rng: random.Random, account: AwsAccount) -> tuple[AwsUser, ...]:
    names = ("breakglass-admin", "legacy-reporting", "ses-smtp-user", "partner-sftp-sync", "jenkins-legacy")
    return tuple(
        AwsUser(n, account.account_id, ids.aws_key_id(rng, "AIDA"), ids.aws_key_id(rng, "AKIA"))
        for n in names
    )


def _gcp_projects(rng: random.Random) -> tuple[GcpProject, ...]:
    out = []
    for project, buckets, datasets in (
        ("kestrel-data-prod", ("kl-raw-events", "kl-curated", "kl-exports"), ("analytics", "finance_mart")),
        ("kestrel-ml", ("kl-ml-features", "kl-ml-models"), ("features",)),
        ("kestrel-sandbox", ("kl-sandbox-scratch",), ("scratch",)),
    ):
        sas = tuple(
            f"{n}@{project}.iam.gserviceaccount.com" for n in ("dataflow-runner", "airflow", "terraform")
        )
        out.append(GcpProject(project, ids.numeric_id(rng, 12), buckets, datasets, sas))
    return tuple(out)


def _repos(rng: random.Random) -> tuple[str, ...]:
    names = sorted({f"{p}-{s}" for p in REPO_PREFIXES for s in REPO_SUFFIXES})
    return tuple(sorted(rng.sample(names, 90)))


def _windows_hosts(rng: random.Random, people: tuple[Person, ...]) -> tuple[Host, ...]:
    hosts = [
        Host(p.laptop, f"{p.laptop}.{AD_SUFFIX}", "workstation", f"10.40.{rng.randrange(0, 16)}.{rng.randrange(2, 254)}", p.login)
        for p in people if p.laptop_os == "windows"
    ]
    for name, kind in (("DC01", "dc"), ("DC02", "dc"), ("FS01", "server"), ("JUMP01", "server"),
                       ("BUILD01", "server"), ("BUILD02", "server"), ("SQL01", "server"), ("PRINT01", "server")):
        hosts.append(Host(name, f"{name}.{AD_SUFFIX}", kind, f"10.10.1.{rng.randrange(10, 250)}"))
    return tuple(hosts)


def _linux_hosts(rng: random.Random) -> tuple[Host, ...]:
    spec = (("web", 6), ("api", 4), ("db", 3), ("bastion", 1), ("ci-runner", 4), ("batch", 2), ("monitoring", 1))
    return tuple(
        Host(f"{role}-{n:02d}", f"{role}-{n:02d}.prod.{DOMAIN}", role, f"10.20.{rng.randrange(64, 128)}.{rng.randrange(2, 254)}")
        for role, count in spec
        for n in range(1, count + 1)
    )


def _databases() -> tuple[Database, ...]:
    return (
        Database("orders-pg", "postgres", f"orders-db.prod.{DOMAIN}:5432", "orders",
                 ("orders", "order_items", "refunds", "shipments"), ("app_ro", "analyst", "dba")),
        Database("customers-pg", "postgres", f"customers-db.prod.{DOMAIN}:5432", "customers",
                 ("customers", "addresses", "payment_methods", "consents"), ("app_ro", "support_ro", "dba")),
        Database("billing-mysql", "mysql", f"billing-db.prod.{DOMAIN}:3306", "billing",
                 ("invoices", "invoice_lines", "subscriptions", "credits"), ("finance_ro", "dba")),
    )
