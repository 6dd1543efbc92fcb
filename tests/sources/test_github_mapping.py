"""GitHub audit log: the outcome of attempts GitHub refused, and the class of membership changes,
in entries shaped as GitHub's audit-log stream writes them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from auditlake.sources import github
from auditlake.sources.base import Frame, Row


def entry(action: str, **fields: Any) -> dict[str, Any]:
    return {
        "@timestamp": 1702649229027, "_document_id": "RbYZGywxRSadhVVKTSGP5g", "action": action,
        "actor": "bob", "actor_id": 111111, "actor_location": {"country_code": "DE"},
        "business": "acme-ent", "business_id": 11111, "created_at": 1702649229027,
        "org": "acme", "org_id": 222222, **fields,
    }


def normalize(record: dict[str, Any]) -> Row:
    return github.normalize(Frame(json.dumps(record).encode(), "f:1"))


def test_a_push_the_branch_rules_rejected_is_a_failure() -> None:
    row = normalize(entry(
        "protected_branch.rejected_ref_update", operation_type="modify", repo="acme/api",
        branch="refs/heads/main", public_repo=False,
        reasons=[{"code": "required_status_checks", "message": "2 of 2 required status checks are expected."}],
    ))
    assert (row["actor_name"], row["target_type"], row["target_id"]) == ("bob", "repository", "acme/api")
    assert row["outcome"] == "failure"


def test_a_failed_two_factor_challenge_is_a_failure() -> None:
    row = normalize(entry("user.two_factor_challenge_failure", operation_type="authentication", user="bob"))
    assert row["outcome"] == "failure"


@pytest.mark.parametrize(
    "action", ["protected_branch.policy_override", "user.two_factor_challenge_success", "personal_access_token.request_denied"],
)
def test_completed_actions_stay_successes(action: str) -> None:
    """An override, a passed challenge and an owner denying a token request all happened."""
    assert normalize(entry(action, repo="acme/api"))["outcome"] == "success"


@pytest.mark.parametrize(
    "action", ["repo.add_member", "repo.update_member", "repo.remove_member", "business.add_admin", "business.remove_admin"],
)
def test_repository_collaborators_and_enterprise_owners_are_group_management(action: str) -> None:
    """The actor changed someone else's membership: `user` is the account acted on."""
    row = normalize(entry(action, repo="acme/api", user="cat", user_id=42))
    assert (row["class_uid"], row["category"]) == (3006, "iam")
    assert (row["actor_name"], row["target_type"], row["target_id"], row["target_name"]) == ("bob", "user", "42", "cat")


@pytest.mark.parametrize("action", ["repo.archived", "repo.access", "business.set_actions_retention_limit"])
def test_other_repository_and_enterprise_actions_stay_api_activity(action: str) -> None:
    row = normalize(entry(action, repo="acme/api"))
    assert (row["class_uid"], row["category"]) == (6003, "api")
