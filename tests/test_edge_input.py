"""Strings a database cannot store, malformed JSON and non-UTF-8 webhook bodies are refused at the edge
with a 400 that names the field; nothing reaches a query (issue 10, items 5 and 8)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from lightfast.api.app import create_app
from lightfast.api.input import clean_text, first_unstorable, unstorable_reason
from tests import test_api
from tests.test_api import Api, assert_error

# The API fixtures of test_api.py: a workspace "a" with its documents and a key.
make_api = test_api.make_api
api = test_api.api
SECRET = "edge-secret"
storable_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | storable_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(storable_text, children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_storable_json_passes_and_is_kept_as_is(value: Any) -> None:
    assert first_unstorable(value) is None
    assert clean_text(value) == value


@given(storable_text, storable_text, st.sampled_from(["\x00", "\ud800", "\udfff"]))
def test_an_unstorable_character_anywhere_is_found_and_cleaned(before: str, after: str, bad: str) -> None:
    text = before + bad + after
    assert unstorable_reason(text) is not None
    assert first_unstorable({"a": [1, {"b": text}]}) == ("a[1].b", unstorable_reason(text))
    assert first_unstorable({text: 1}) is not None
    cleaned = clean_text({"k": [text]})
    assert first_unstorable(cleaned) is None
    assert before in cleaned["k"][0]
    assert after in cleaned["k"][0]


def test_deep_json_is_refused_without_recursion() -> None:
    value: Any = "x"
    for _ in range(10_000):
        value = [value]
    assert first_unstorable(value) == ("body", "nests deeper than 64 levels")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/contents", '{"ids": ["doc_\\ud800"]}', "ids[0]"),
        ("/v1/contents", '{"ids": ["doc_\\u0000x"]}', "ids[0]"),
        ("/v1/search", '{"query": "x", "filters": {"stores": ["\\ud800"]}}', "filters.stores[0]"),
        ("/v1/search", '{"query": "x", "filters": {"sourceTypes": ["\\udc00"]}}', "filters.sourceTypes[0]"),
        ("/v1/search", '{"query": "a\\u0000b"}', "query"),
    ],
)
def test_unstorable_strings_in_a_body_answer_400_naming_the_field(
    api: Api,
    path: str,
    body: str,
    field: str,
) -> None:
    response = api.call("POST", path, content=body, headers={"Content-Type": "application/json"})
    error = assert_error(response, 400, "invalid_input")
    assert error["message"].startswith(f"{field}: ")


@pytest.mark.parametrize("path", ["/v1/jobs/job%00x", "/v1/sources/src%00x", "/v1/stores?x=%00"])
def test_nul_in_a_path_or_query_answers_400(api: Api, path: str) -> None:
    assert_error(api.call("GET", path), 400, "invalid_input")


def test_malformed_json_names_the_body_not_an_offset(api: Api) -> None:
    response = api.call(
        "POST", "/v1/search", content='{"query": "x",}', headers={"Content-Type": "application/json"}
    )
    message = assert_error(response, 400, "invalid_input")["message"]
    assert message.startswith("body: is not valid JSON"), message
    assert "JSON decode error" not in message.split("(")[0]


@pytest.fixture
def webhook_client(make_api: Callable[..., Api]) -> TestClient:
    api = make_api(github_webhook_secret=SECRET)
    client = TestClient(create_app(api.services), raise_server_exceptions=False)
    api.extra_clients.append(client)
    return client


def _deliver(client: TestClient, body: bytes) -> Any:
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": signature}
    return client.post("/webhooks/github", content=body, headers=headers)


@pytest.mark.parametrize(
    ("encode", "words"),
    [
        (lambda text: text.encode("utf-16"), "not UTF-8"),
        (lambda text: text.encode("utf-16-le"), "not UTF-8"),
        (lambda text: ("\ufeff" + text).encode("utf-8"), "byte order mark"),
    ],
)
def test_a_webhook_body_that_is_not_plain_utf8_is_refused(
    webhook_client: TestClient, encode: Callable[[str], bytes], words: str
) -> None:
    body = encode(json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}))
    response = _deliver(webhook_client, body)
    assert response.status_code == 400, response.text
    assert words in response.json()["message"]


def test_a_webhook_body_in_utf8_is_accepted(webhook_client: TestClient) -> None:
    response = _deliver(webhook_client, json.dumps({"zen": "a\u0000b \ud800", "hook_id": 1}).encode())
    assert response.status_code < 300, response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": "x", "limit": "10"}, "limit"),
        ({"query": "x", "limit": True}, "limit"),
        ({"query": "x", "limit": 10.5}, "limit"),
        ({"query": "x", "offset": "0"}, "offset"),
        ({"query": "x", "includeHighlights": "yes"}, "includeHighlights"),
        ({"query": "x", "includeHighlights": 1}, "includeHighlights"),
    ],
)
def test_numbers_and_booleans_are_not_guessed_from_other_types(
    api: Api, body: dict[str, Any], field: str
) -> None:
    error = assert_error(api.call("POST", "/v1/search", json=body), 400, "invalid_input")
    assert error["message"].startswith(f"{field}: "), error


def test_well_typed_numbers_and_booleans_are_accepted(api: Api) -> None:
    body = {"query": "shared", "limit": 5, "offset": 0, "includeHighlights": True}
    assert api.call("POST", "/v1/search", 200, json=body).json()["data"]
    assert api.call("POST", "/v1/findsimilar", json={"id": "doc_x", "threshold": 0}).status_code == 404
