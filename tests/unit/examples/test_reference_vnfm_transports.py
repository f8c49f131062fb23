"""The reference VNFM's webhook and bus (examples/reference_vnfm/fenix_vnfm/webhook.py and bus.py)."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from urllib.error import HTTPError

import pytest
from fenix_vnfm import bus, webhook
from vnfm_fakes import PROJECT, aodh, make, payload


@pytest.fixture
def served():
    """A webhook of a VNFM answering late=0.5, on a free port: (url, server, vnfm, api, log)."""
    manager, api, log = make("late=0.5")
    server = webhook.WebhookServer(("127.0.0.1", 0), manager)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield "http://127.0.0.1:%d/maintenance" % server.server_address[1], server, manager, api, log
    finally:
        server.shutdown()
        server.server_close()


def post(url, data):
    return urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=5)


def test_webhook_answers_at_once_and_hands_the_body_on(served):
    url, server, _manager, api, _log = served
    data = json.dumps(aodh(payload("MAINTENANCE"))[0]).encode()
    started = time.monotonic()
    with post(url, data) as response:
        assert response.status == 200
    assert time.monotonic() - started < 0.5  # the late answer does not hold up AODH's POST
    with pytest.raises(HTTPError) as refused:
        post(url, b"{nope")
    assert refused.value.code == 400
    server.wait_for_workers(5)
    assert api.puts()[0][1] == {"state": "ACK_MAINTENANCE"}


def test_webhook_refuses_huge_bodies_and_logs_what_is_not_json(served):
    url, _server, _manager, api, log = served
    request = urllib.request.Request(url, data=b"{}", method="POST",
                                     headers={"Content-Length": str(webhook.MAX_BODY + 1)})
    with pytest.raises(HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 413
    with pytest.raises(HTTPError):
        post(url, b"{nope")
    assert log.events("error")[0]["transport"] == "webhook" and api.calls == []


def test_webhook_get_is_a_readiness_probe(served):
    url, _server, _manager, _api, _log = served
    with urllib.request.urlopen(url, timeout=5) as response:
        assert json.loads(response.read()) == {"project_id": PROJECT, "policy": "live_migrate,late=0.5"}


@pytest.mark.parametrize("transport_url, expected", [
    ("rabbit://u:p@h1:5672,u:p@h2:5672/", ("amqp://u:p@h1:5672/;amqp://u:p@h2:5672/", False)),
    ("rabbit://u:p@h1:5672/vhost?ssl=true", ("amqp://u:p@h1:5672/vhost", True)),
    ("amqp://u:p@h1:5672", ("amqp://u:p@h1:5672/", False)),
])
def test_kombu_url(transport_url, expected):
    assert bus.kombu_url(transport_url) == expected


@pytest.mark.parametrize("transport_url", ["http://h1:5672/", "rabbit:///vhost"])
def test_kombu_url_wants_a_transport_url(transport_url):
    with pytest.raises(ValueError, match="transport_url"):
        bus.kombu_url(transport_url)
