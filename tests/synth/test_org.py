"""The organisation: deterministic by seed, unique identities, every system has users."""

from __future__ import annotations

from auditlake.synth.org import build_org


def test_same_seed_same_org_other_seed_other_org() -> None:
    assert build_org(3) == build_org(3)
    assert build_org(3).people != build_org(4).people


def test_identities_are_unique() -> None:
    org = build_org(7)
    for attr in ("login", "email", "sam", "laptop", "okta_id", "windows_sid", "unix_uid"):
        values = [getattr(p, attr) for p in org.people]
        assert len(values) == len(set(values)), attr
    handles = [p.github for p in org.people if p.github]
    assert len(handles) == len(set(handles))


def test_every_system_and_department_is_staffed() -> None:
    org = build_org(7)
    for system in ("aws", "k8s", "github", "gcp", "gateway", "linux", "windows", "okta"):
        assert len(org.users_of(system)) >= 10, system
    assert {p.department for p in org.people} >= {"Engineering", "SRE", "IT", "Sales", "Security"}
    assert any(p.admin for p in org.people)


def test_estate_is_complete() -> None:
    org = build_org(7)
    assert len(org.aws_accounts) == 5 and len({a.account_id for a in org.aws_accounts}) == 5
    assert {r.kind for r in org.aws_roles} >= {"sso", "ci", "service", "monitoring", "config"}
    assert {h.kind for h in org.windows_hosts} >= {"workstation", "dc", "server"}
    assert {h.kind for h in org.linux_hosts} >= {"web", "db", "bastion"}
    laptops = {h.name for h in org.windows_hosts if h.owner}
    assert laptops == {p.laptop for p in org.people if p.laptop_os == "windows"}
    assert len(org.repos) == len(set(org.repos)) >= 60
    assert dict(org.groups)["Everyone"] == tuple(p.login for p in org.people)
    assert {s.system for s in org.service_accounts} >= {"github", "okta", "gateway", "k8s"}
    assert org.machine("github", "github-actions[bot]").ident.isdigit()
