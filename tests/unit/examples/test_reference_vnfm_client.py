"""The reference VNFM's HTTP client of the maintenance API (examples/reference_vnfm/fenix_vnfm/client.py)."""

from __future__ import annotations

import io
import json
from urllib.error import HTTPError, URLError

import pytest
from fenix_vnfm import client
from vnfm_fakes import API, MINE, PROJECT


class FakeResponse(io.BytesIO):
    def __init__(self, status, body):
        super().__init__(json.dumps(body).encode())
        self.status = status


def opener_of(*outcomes):
    """urlopen stand-in answering with ``outcomes`` in turn: (status, body) or an exception."""
    seen = []

    def opener(request, timeout):
        seen.append((request.get_method(), request.full_url, request.get_header("X-auth-token"), request.data))
        outcome = outcomes[len(seen) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        status, body = outcome
        if status != 200:
            raise HTTPError(request.full_url, status, "x", {}, io.BytesIO(json.dumps(body).encode()))
        return FakeResponse(status, body)
    return opener, seen


def api_with(*outcomes, retries=3):
    opener, seen = opener_of(*outcomes)
    tokens = []
    sleeps = []

    def token(fresh):
        tokens.append(fresh)
        return "token-%d" % len(tokens)
    api = client.MaintenanceApi(token, retries=retries, retry_delay=0.5, opener=opener, sleep=sleeps.append)
    return api, seen, tokens, sleeps


def test_retries_until_200():
    api, seen, _tokens, sleeps = api_with((503, {}), URLError("refused"), (200, {"state": "ACK_MAINTENANCE"}))
    result = api.call("PUT", API + "/x", {"state": "ACK_MAINTENANCE"})
    assert result == {"status": 200, "body": {"state": "ACK_MAINTENANCE"}, "attempts": 3, "error": None}
    assert [item[0] for item in seen] == ["PUT"] * 3
    assert json.loads(seen[0][3]) == {"state": "ACK_MAINTENANCE"}
    assert sleeps == [0.5, 1.0]  # exponential backoff


def test_retries_are_bounded():
    api, _seen, _tokens, _sleeps = api_with(*([(502, {})] * 3), retries=2)
    result = api.call("PUT", API + "/x", {})
    assert result["attempts"] == 3 and result["status"] == 502 and result["error"] == "HTTP 502"


def test_a_call_may_have_its_own_retries():
    api, seen, _tokens, sleeps = api_with(URLError("refused"), (200, {}))
    result = api.put(API + "/instance_group/g-1", {}, retries=0)
    assert (result["attempts"], result["status"], sleeps, len(seen)) == (1, None, [], 1)
    assert result["error"] == "refused"


def test_a_refusal_is_not_retried_and_its_message_is_kept():
    api, seen, _tokens, _sleeps = api_with((409, {"error": {"code": 409, "message": "does not answer SCALE_IN"}}))
    result = api.call("PUT", API + "/x", {"state": "ACK_MAINTENANCE"})
    assert len(seen) == 1 and result["error"] == "HTTP 409: does not answer SCALE_IN"


def test_a_401_fetches_a_new_token():
    api, seen, tokens, _sleeps = api_with((401, {}), (200, {}))
    assert api.call("GET", API + "/x")["error"] is None
    assert tokens == [False, True] and [item[2] for item in seen] == ["token-1", "token-2"]


@pytest.mark.parametrize("status, retried", [(None, True), (500, True), (503, True), (401, True), (408, True),
                                             (429, True), (400, False), (404, False), (409, False)])
def test_what_is_worth_retrying(status, retried):
    assert client.worth_retrying(status) is retried


def test_the_instance_list_is_read_and_a_failure_raises():
    url = "%s/maintenance/sid-1/%s" % (API, PROJECT)
    api, seen, _tokens, _sleeps = api_with((200, {"instance_ids": MINE}))
    assert api.get_instance_ids(url) == MINE and seen[0][:2] == ("GET", url) and seen[0][3] is None
    api, _seen, _tokens, _sleeps = api_with((404, {}))
    with pytest.raises(client.ApiError, match="GET %s failed after 1 attempts: HTTP 404" % url):
        api.get_instance_ids(url)


def test_put_sends_the_body():
    api, seen, _tokens, _sleeps = api_with((200, {}))
    assert api.put(API + "/instance/x", {"lead_time": 0})["status"] == 200
    assert seen[0][0] == "PUT" and json.loads(seen[0][3]) == {"lead_time": 0}
