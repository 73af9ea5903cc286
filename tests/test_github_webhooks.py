"""GitHub webhook first layer: signatures and payload parsing, against real published deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightfast.errors import InvalidInput
from lightfast.sources.github.webhooks import (
    InstallationEvent,
    PushChanges,
    RepositoryEvent,
    classify_push,
    merge_commit_changes,
    parse_installation,
    parse_push,
    parse_repository,
    verify_signature,
)

# shared/ sits beside the repository, in development and in CI.
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "webhooks" / "github"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


# --------------------------------------------------------------------------- signature

SECRET = "It's a Secret to Everybody"
BODY = b"Hello, World!"
VECTOR = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_published_vector_verifies() -> None:
    assert verify_signature(SECRET, BODY, VECTOR)
    assert verify_signature(SECRET.encode(), BODY, VECTOR)
    assert verify_signature(SECRET, BODY, VECTOR.upper().replace("SHA256=", "sha256="))


@pytest.mark.parametrize(
    ("secret", "body", "header"),
    [
        (SECRET, b"Hello, World?", VECTOR),  # tampered body
        (SECRET, b"Hello, World! ", VECTOR),
        ("It's a secret to everybody", BODY, VECTOR),  # wrong secret
        ("", BODY, VECTOR),
        (SECRET, BODY, VECTOR.replace("sha256=", "sha1=")),  # wrong prefix
        (SECRET, BODY, VECTOR.removeprefix("sha256=")),  # no prefix
        (SECRET, BODY, VECTOR[:-1]),  # too short
        (SECRET, BODY, VECTOR + "0"),  # too long
        (SECRET, BODY, VECTOR[:-1] + "g"),  # not hex
        (SECRET, BODY, VECTOR[:-1] + "é"),  # not ASCII
        (SECRET, BODY, VECTOR[:-1] + "f"),  # one digit off
        (SECRET, BODY, ""),
        (SECRET, BODY, "sha256="),
        (SECRET, BODY, None),
    ],
)
def test_bad_signatures_are_rejected(secret: str, body: bytes, header: str | None) -> None:
    assert verify_signature(secret, body, header) is False


@given(st.binary(), st.binary(min_size=1), st.text())
def test_verify_never_raises(body: bytes, secret: bytes, header: str) -> None:
    assert verify_signature(secret, body, header) in (True, False)
    good = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    assert verify_signature(secret, body, good)


# --------------------------------------------------------------------------- push


def test_push_added_modified() -> None:
    payload = load("push.added-modified.json")
    push = parse_push(payload)
    assert push == PushChanges(
        repository_id=63933911,
        full_name="binkkatal/sample_app",
        ref="refs/heads/master",
        branch="master",
        before="737d38c599c1b2991664dfc6155d6bf516fcce36",
        after="fd489864e7642b48eaad6e3f155c10e46810ec72",
        head_commit="fd489864e7642b48eaad6e3f155c10e46810ec72",
        changes={".razorops.yaml": "upsert", "app/controllers/application_controller.rb": "upsert"},
        touches_config=False,
    )
    assert classify_push(payload) == "sync"
    assert classify_push(payload, default_branch="main") == "ignore_branch"


def test_push_tag_created() -> None:
    payload = load("push.tag-created.json")
    push = parse_push(payload)
    assert push.ref == "refs/tags/simple-tag"
    assert push.branch is None
    assert push.repository_id == 118
    assert push.full_name == "Codertocat/Hello-World"
    assert push.changes == {}
    assert push.head_commit == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert classify_push(payload) == "ignore_tag"
    assert classify_push(payload, default_branch="simple-tag") == "ignore_tag"


def test_push_classification_variants() -> None:
    base = load("push.added-modified.json")
    assert classify_push({**base, "ref": "refs/heads/feature"}) == "ignore_branch"
    assert classify_push({**base, "deleted": True}) == "ignore_delete"
    assert classify_push({**base, "ref": "refs/tags/v1", "deleted": True}) == "ignore_delete"
    # a branch merely named like the default one elsewhere in the ref is not the default branch
    assert classify_push({**base, "ref": "refs/heads/x/master"}) == "ignore_branch"


def _push(commits: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "before": "a" * 40,
        "after": "b" * 40,
        "deleted": False,
        "commits": commits,
        "head_commit": None,
        "repository": {"id": 1, "full_name": "o/r", "default_branch": "main"},
    }


def test_merge_last_change_wins_and_readd_is_upsert() -> None:
    commits: list[dict[str, Any]] = [
        {"added": ["a.md", "b.md"], "modified": [], "removed": []},
        {"added": [], "modified": ["a.md"], "removed": ["b.md"]},
        {"added": ["b.md"], "modified": [], "removed": ["a.md"]},
    ]
    push = parse_push(_push(commits))
    assert push.changes == {"a.md": "remove", "b.md": "upsert"}
    assert push.head_commit is None
    assert push.branch == "main"


@pytest.mark.parametrize(
    ("path", "touches"),
    [
        ("lightfast.yml", True),
        (".lightfast.yml", True),
        ("lightfast.yaml", True),
        (".lightfast.yaml", True),
        ("docs/lightfast.yml", False),
        ("lightfast.yml.bak", False),
        ("Lightfast.yml", False),
    ],
)
def test_touches_config(path: str, touches: bool) -> None:
    assert parse_push(_push([{"added": [], "modified": [path], "removed": []}])).touches_config is touches
    assert parse_push(_push([{"added": [], "modified": [], "removed": [path]}])).touches_config is touches


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("repository"), "repository"),
        (lambda p: p["repository"].pop("id"), "repository.id"),
        (lambda p: p["repository"].update(id="1"), "repository.id"),
        (lambda p: p["repository"].pop("full_name"), "repository.full_name"),
        (lambda p: p.pop("ref"), "ref"),
        (lambda p: p.pop("before"), "before"),
        (lambda p: p.pop("after"), "after"),
        (lambda p: p.pop("commits"), "commits"),
        (lambda p: p.update(commits=[{"added": "a.md"}]), "commits[0].added"),
        (lambda p: p.update(commits=[{"added": [], "removed": [3]}]), "commits[0].removed"),
        (lambda p: p.update(head_commit={}), "head_commit.id"),
    ],
)
def test_push_missing_fields(mutate: Any, field: str) -> None:
    payload = _push([{"added": ["a.md"], "modified": [], "removed": []}])
    mutate(payload)
    with pytest.raises(InvalidInput) as info:
        parse_push(payload)
    assert info.value.field == field


def test_classify_missing_fields() -> None:
    payload = _push([])
    del payload["repository"]["default_branch"]
    with pytest.raises(InvalidInput) as info:
        classify_push(payload)
    assert info.value.field == "repository.default_branch"
    assert classify_push(payload, default_branch="main") == "sync"
    with pytest.raises(InvalidInput) as info:
        classify_push({"repository": {}})
    assert info.value.field == "ref"


PATHS = st.sampled_from(["a.md", "b.md", "docs/c.md", "lightfast.yml", "x/y/z.txt", "ä.md"])
COMMIT = st.dictionaries(PATHS, st.sampled_from(["added", "modified", "removed"]), max_size=6)


@given(st.lists(COMMIT, max_size=12))
def test_merge_equals_replay(commit_ops: list[dict[str, str]]) -> None:
    commits = [
        {kind: [p for p, k in ops.items() if k == kind] for kind in ("added", "modified", "removed")}
        for ops in commit_ops
    ]
    expected: dict[str, str] = {}
    for ops in commit_ops:
        for path, kind in ops.items():
            expected[path] = "remove" if kind == "removed" else "upsert"
    result = merge_commit_changes(commits)
    assert result == expected  # dict equality: order of first appearance is irrelevant
    push = parse_push(_push(commits))
    assert push.changes == expected
    assert push.touches_config == ("lightfast.yml" in expected)


# --------------------------------------------------------------------------- installation


@pytest.mark.parametrize(
    ("event", "name", "expected"),
    [
        (
            "installation",
            "installation.created.json",
            InstallationEvent("created", 957387, [(186853002, "Codertocat/Hello-World")]),
        ),
        (
            "installation",
            "installation.deleted.json",
            InstallationEvent("deleted", 2, [(1296269, "octocat/Hello-World")]),
        ),
        (
            "installation_repositories",
            "installation_repositories.added.json",
            InstallationEvent("added", 957387, [(186853007, "Codertocat/Space")]),
        ),
        (
            "installation_repositories",
            "installation_repositories.removed.json",
            InstallationEvent("removed", 2, [(1296269, "octocat/Hello-World")]),
        ),
    ],
)
def test_installation_fixtures(event: str, name: str, expected: InstallationEvent) -> None:
    assert parse_installation(event, load(name)) == expected


def test_installation_errors() -> None:
    base: dict[str, Any] = {"action": "added", "installation": {"id": 7}, "repositories_added": []}
    assert parse_installation("installation_repositories", base).repositories == []
    assert parse_installation("installation", {"action": "suspend", "installation": {"id": 7}}) == (
        InstallationEvent("suspend", 7, [])
    )
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("push", base, "event"),
        ("installation_repositories", {**base, "action": "renamed"}, "action"),
        ("installation_repositories", {"action": "added", "installation": {"id": 7}}, "repositories_added"),
        ("installation", {"installation": {"id": 7}}, "action"),
        ("installation", {"action": "created"}, "installation"),
        ("installation", {"action": "created", "installation": {}}, "installation.id"),
        ("installation", {**base, "repositories": [{"id": 1}]}, "repositories[0].full_name"),
    ]
    for event, payload, field in cases:
        with pytest.raises(InvalidInput) as info:
            parse_installation(event, payload)
        assert info.value.field == field


# --------------------------------------------------------------------------- repository


def test_repository_renamed() -> None:
    event = parse_repository(load("repository.renamed.json"))
    assert event == RepositoryEvent(
        action="renamed",
        repository_id=186853261,
        full_name="Octocoders/Hello-World",
        owner_login="Octocoders",
        previous_name="Hello-World",
        previous_full_name="Octocoders/Hello-World",
    )


def test_repository_other_actions_and_errors() -> None:
    payload: dict[str, Any] = {
        "action": "renamed",
        "changes": {"repository": {"name": {"from": "old"}}},
        "repository": {"id": 5, "full_name": "org/new", "owner": {"login": "org"}},
    }
    event = parse_repository(payload)
    assert (event.previous_name, event.previous_full_name) == ("old", "org/old")
    assert parse_repository({**payload, "action": "archived", "changes": None}).previous_full_name is None
    with pytest.raises(InvalidInput) as info:
        parse_repository({**payload, "repository": {"id": 5, "full_name": "org/new"}})
    assert info.value.field == "repository.owner"


def test_other_fixtures_are_not_push_payloads() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_push(load("ping.json"))
    assert info.value.field == "ref"
    with pytest.raises(InvalidInput):
        parse_push([])  # type: ignore[arg-type]
