"""Fuzzing the JSON API's body parsing for log-in: whatever the body, the answer is a 4xx with the
API's error shape and a Vietnamese message, never a 500, and no session is opened."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edge.web import create_app

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
# Text with lone surrogates (a JSON escape can carry them), NULs, full-width and combining marks.
wild_text = st.text(alphabet=st.sampled_from(["a", "\ud800", "\udfff", "\x00", "\u0301", "１", " "])
                    | st.characters(), max_size=30)
credential = st.sampled_from(["clerk", "super", "khong-co", "CLERK ", ""]) | wild_text | json_values

bodies = st.one_of(
    st.binary(max_size=200).map(lambda b: ("application/json", b)),
    json_values.map(lambda v: ("application/json", json.dumps(v).encode())),
    st.fixed_dictionaries({"username": credential, "password": credential},
                          optional={"extra": json_values}).map(
        lambda d: ("application/json", json.dumps(d).encode())),
    st.tuples(st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                               "application/json; charset=latin-1"]), st.binary(max_size=60)),
)


@pytest.fixture
def api(settings, store):
    loop = asyncio.new_event_loop()
    client = TestClient(TestServer(create_app(settings=settings, store=store)), loop=loop)
    loop.run_until_complete(client.start_server())
    yield loop, client
    loop.run_until_complete(client.close())
    loop.close()


def test_session_endpoint_answers_every_body_with_a_4xx(api, store):
    loop, client = api

    async def send(content_type: str, data: bytes) -> tuple[int, dict]:
        resp = await client.post("/api/v1/session", data=data, headers={"Content-Type": content_type})
        return resp.status, await resp.json()

    @settings(max_examples=120)
    @given(body=bodies)
    @example(body=("application/json", b'{"username": "clerk", "password": "\\ud800abcdef"}'))
    @example(body=("application/json", b'{"username": "\\udfff", "password": "abcdefgh"}'))
    def check(body):
        status, answer = loop.run_until_complete(send(*body))
        assert 400 <= status < 500, (status, answer)
        error = answer["error"]
        assert error["code"] and error["message"] and error["message_vi"]

    check()
    assert store.query("SELECT count(*) AS n FROM web_sessions")[0]["n"] == 0
