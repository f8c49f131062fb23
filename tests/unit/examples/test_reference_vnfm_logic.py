"""The reference VNFM's own logic (examples/reference_vnfm/vnfm.py), without a cloud.

Notifications are built with the collection's real sender code (notify.py),
so a change of the wire shape on either side fails here first.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
import threading
import time
import urllib.request
from urllib.error import HTTPError, URLError

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.notify import notifier as notify

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
_SPEC = importlib.util.spec_from_file_location("reference_vnfm", os.path.join(ROOT, "examples", "reference_vnfm", "vnfm.py"))
vnfm = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = vnfm  # dataclasses look their module up while the file runs
_SPEC.loader.exec_module(vnfm)

API = "http://api.example:12347/v1"
PROJECT = "fc9628a8089441e9af02942f29e0072c"
OTHER = "ec360ecbe21e4fec83eaaaee7782e776"
MINE = ["11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"]


def payload(state="PLANNED_MAINTENANCE", project_id=PROJECT, **extra):
    return notify.scheduled_payload(API, "sid-1", project_id, state, "2030-01-01 00:00:00", "2030-01-01 00:00:00",
                                    {"release": "next"}, **extra)


def aodh(body_payload):
    notification = notify.Notification(notify.SCHEDULED, body_payload)
    target = notify.configured_target(body_payload["project_id"], "http://vnfm/maintenance", notify.SCHEDULED)
    return notify.aodh_body(notification, target), notification


# ------------------------------------------------------------------ traits and shapes

@pytest.mark.parametrize("raw, expected", [
    ('["MIGRATE", "LIVE_MIGRATE"]', ["MIGRATE", "LIVE_MIGRATE"]),
    ("[u'MIGRATE', u'OWN_ACTION']", ["MIGRATE", "OWN_ACTION"]),  # what Fenix-era AODH sent
    ("{u'openstack_release': u'Queens'}", {"openstack_release": "Queens"}),
    ('{"release": "next"}', {"release": "next"}),
    ("[]", []),
    ("http://api/v1/maintenance/s/p", "http://api/v1/maintenance/s/p"),
    ("[not a list", "[not a list"),
    ("[__import__('os').system('true')]", "[__import__('os').system('true')]"),  # never evaluated
    (3, 3),
])
def test_trait_values_are_decoded_without_running_them(raw, expected):
    assert vnfm.decode_trait_value(raw) == expected


def test_aodh_body_of_the_real_sender_gives_back_the_payload():
    sent = payload()
    body, notification = aodh(sent)
    parsed = vnfm.parse_notification(json.loads(json.dumps(body)))
    assert parsed.shape == "aodh"
    assert parsed.event_type == "maintenance.scheduled"
    assert parsed.message_id == notification.message_id
    # Datetime traits come back in ISO form; everything else exactly as sent.
    assert parsed.payload.pop("reply_at") == "2030-01-01T00:00:00"
    assert parsed.payload.pop("actions_at") == "2030-01-01T00:00:00"
    assert parsed.payload == {key: value for key, value in sent.items() if key not in ("reply_at", "actions_at")}
    assert vnfm.parse_time("2030-01-01T00:00:00") == vnfm.parse_time("2030-01-01 00:00:00")


def test_fenix_era_body_with_python_reprs_and_dict_traits():
    body = {"alarm_id": "a", "current": "alarm", "reason_data": {"type": "event", "event": {
        "message_id": "m-1", "event_type": "maintenance.scheduled", "traits": [
            {"name": "project_id", "type": "string", "value": PROJECT},
            ["allowed_actions", 1, "[u'MIGRATE', u'LIVE_MIGRATE', u'OWN_ACTION']"],
            ["instance_ids", 1, "http://127.0.0.1:12347/v1/maintenance/s/%s" % PROJECT],
            ["state", 1, "PREPARE_MAINTENANCE"],
            ["metadata", 1, "{u'openstack_release': u'Queens'}"],
            ["reply_at", 4, "2018-02-28T06:40:16"]]}}}
    parsed = vnfm.parse_notification(body)
    assert parsed.payload["allowed_actions"] == ["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"]
    assert parsed.payload["metadata"] == {"openstack_release": "Queens"}
    assert parsed.project_id == PROJECT and parsed.state == "PREPARE_MAINTENANCE"


def test_bus_envelope_oslo_message_and_bare_payload():
    sent = payload("MAINTENANCE")
    notification = notify.Notification(notify.SCHEDULED, sent)
    envelope = json.loads(json.dumps(notify.oslo_envelope(notification)))
    parsed = vnfm.parse_notification(envelope)
    assert (parsed.shape, parsed.payload, parsed.message_id) == ("oslo", sent, notification.message_id)
    assert vnfm.parse_notification(notify.oslo_message(notification)).payload == sent
    bare = vnfm.parse_notification(sent)
    assert bare.shape == "payload" and bare.event_type == "maintenance.scheduled" and bare.payload == sent


@pytest.mark.parametrize("body", [[], {"hello": "world"}, {"oslo.message": "{not json"},
                                  {"reason_data": {"event": {"traits": [["only-two", 1]]}}}])
def test_what_is_no_notification_is_refused(body):
    with pytest.raises(vnfm.NotificationError):
        vnfm.parse_notification(body)


# ------------------------------------------------------------------ policy

@pytest.mark.parametrize("text, kind, delay", [
    ("live_migrate", "live_migrate", 0), ("MIGRATE", "migrate", 0), ("own_action", "own_action", 0),
    ("nack", "nack", 0), ("silent", "silent", 0), ("late=5", "live_migrate", 5),
    ("migrate,late=2.5", "migrate", 2.5), ("late=1, nack", "nack", 1),
])
def test_policies_parse(text, kind, delay):
    assert vnfm.parse_policy(text) == vnfm.Policy(kind, delay)


@pytest.mark.parametrize("text, message", [
    ("bogus", "use one of"), ("late=soon", "in seconds"), ("late=-1", "negative"),
    ("nack,migrate", "two answers"), ("silent,late=3", "never answers"),
])
def test_bad_policies_say_why(text, message):
    with pytest.raises(vnfm.PolicyError, match=message):
        vnfm.parse_policy(text)


def test_state_policies_override_the_default():
    book = vnfm.PolicyBook.parse("live_migrate", ["scale_in=nack", "MAINTENANCE=late=3"])
    assert book.for_state("SCALE_IN").kind == "nack"
    assert book.for_state("MAINTENANCE") == vnfm.Policy("live_migrate", 3)
    assert book.for_state("PLANNED_MAINTENANCE").kind == "live_migrate"
    with pytest.raises(vnfm.PolicyError, match="STATE=POLICY"):
        vnfm.PolicyBook.parse("live_migrate", ["INSTANCE_ACTION_DONE=nack"])


ALL = ["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"]


@pytest.mark.parametrize("policy, state, allowed, reply, action", [
    ("live_migrate", "PLANNED_MAINTENANCE", ALL, "ACK_PLANNED_MAINTENANCE", "LIVE_MIGRATE"),
    ("migrate", "PREPARE_MAINTENANCE", ALL, "ACK_PREPARE_MAINTENANCE", "MIGRATE"),
    ("own_action", "PLANNED_MAINTENANCE", ALL, "ACK_PLANNED_MAINTENANCE", "OWN_ACTION"),
    ("live_migrate", "PLANNED_MAINTENANCE", ["MIGRATE"], "ACK_PLANNED_MAINTENANCE", "MIGRATE"),
    ("live_migrate", "MAINTENANCE", [], "ACK_MAINTENANCE", None),
    ("own_action", "SCALE_IN", [], "ACK_SCALE_IN", None),
    ("migrate", "MAINTENANCE_COMPLETE", [], "ACK_MAINTENANCE_COMPLETE", None),
    ("nack", "PLANNED_MAINTENANCE", ALL, "NACK_PLANNED_MAINTENANCE", None),
    ("nack", "MAINTENANCE", [], "NACK_MAINTENANCE", None),
    ("silent", "PLANNED_MAINTENANCE", ALL, None, None),
    ("live_migrate", "INSTANCE_ACTION_DONE", [], None, None),
])
def test_decisions(policy, state, allowed, reply, action):
    decision = vnfm.decide(vnfm.parse_policy(policy), state, allowed)
    assert (decision.reply, decision.action) == (reply, action)


def test_late_policy_delays_the_answer():
    assert vnfm.decide(vnfm.parse_policy("late=7"), "MAINTENANCE", []).delay == 7


def test_instance_reply_url():
    project_url = "%s/maintenance/s/%s" % (API, PROJECT)
    assert vnfm.instance_reply_url(project_url, MINE[0]) == project_url + "/" + MINE[0]
    assert vnfm.instance_reply_url(project_url + "/", MINE[0]) == project_url + "/" + MINE[0]
    assert vnfm.instance_reply_url(project_url + "/" + MINE[0], MINE[0]) == project_url + "/" + MINE[0]


# ------------------------------------------------------------------ the API client

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

    def token(fresh):
        tokens.append(fresh)
        return "token-%d" % len(tokens)
    return vnfm.MaintenanceApi(token, retries=retries, retry_delay=0, opener=opener, sleep=lambda _s: None), seen, tokens


def test_retries_until_200():
    api, seen, _tokens = api_with((503, {}), URLError("refused"), (200, {"state": "ACK_MAINTENANCE"}))
    result = api.call("PUT", API + "/x", {"state": "ACK_MAINTENANCE"})
    assert result == {"status": 200, "body": {"state": "ACK_MAINTENANCE"}, "attempts": 3, "error": None}
    assert [item[0] for item in seen] == ["PUT"] * 3
    assert json.loads(seen[0][3]) == {"state": "ACK_MAINTENANCE"}


def test_retries_are_bounded():
    api, _seen, _tokens = api_with(*([(502, {})] * 3), retries=2)
    result = api.call("PUT", API + "/x", {})
    assert result["attempts"] == 3 and result["status"] == 502 and result["error"] == "HTTP 502"


def test_a_refusal_is_not_retried_and_its_message_is_kept():
    api, seen, _tokens = api_with((409, {"error": {"code": 409, "message": "does not answer SCALE_IN"}}))
    result = api.call("PUT", API + "/x", {"state": "ACK_MAINTENANCE"})
    assert len(seen) == 1 and result["error"] == "HTTP 409: does not answer SCALE_IN"


def test_a_401_fetches_a_new_token():
    api, seen, tokens = api_with((401, {}), (200, {}))
    assert api.call("GET", API + "/x")["error"] is None
    assert tokens == [False, True] and [item[2] for item in seen] == ["token-1", "token-2"]


# ------------------------------------------------------------------ the VNFM, with fakes

class FakeApi:
    """Answers GETs of the instance list and records every PUT."""

    def __init__(self, instances=None, status=200):
        self.instances = list(MINE) if instances is None else instances
        self.status = status
        self.calls = []

    def call(self, method, url, body=None):
        self.calls.append((method, url, body))
        if method == "GET":
            return {"status": 200, "body": {"instance_ids": self.instances}, "attempts": 1, "error": None}
        error = None if self.status == 200 else "HTTP %d" % self.status
        return {"status": self.status, "body": {}, "attempts": 1, "error": error}

    def puts(self):
        return [(url, body) for method, url, body in self.calls if method == "PUT"]


class FakeCloud:
    def __init__(self, statuses):
        self.sequence = statuses if isinstance(statuses, list) else [statuses]
        self.asked = []

    def statuses(self, ids):
        self.asked.append(list(ids))
        current = self.sequence[min(len(self.asked), len(self.sequence)) - 1]
        return {server_id: current.get(server_id, "ACTIVE") for server_id in ids}

    def my_server_ids(self):
        return list(MINE)

    def server_group(self, name):
        return {"id": "g-1", "name": name, "policy": "anti-affinity", "members": list(MINE),
                "names": {MINE[0]: "vm-0", MINE[1]: "vm-1"}}


class MemoryLog:
    def __init__(self):
        self.lines = []

    def write(self, event, **fields):
        self.lines.append(dict(fields, event=event))

    def events(self, name):
        return [line for line in self.lines if line["event"] == name]


def make(policy="live_migrate", statuses=None, per_instance=False, api=None, overrides=()):
    api = api or FakeApi()
    log = MemoryLog()
    manager = vnfm.Vnfm(PROJECT, vnfm.PolicyBook.parse(policy, list(overrides)), api, FakeCloud(statuses or {}), log,
                        per_instance=per_instance, check_timeout=5, check_interval=0.01)
    return manager, api, log


def test_planned_maintenance_is_acked_with_the_policy_action_for_every_listed_instance():
    manager, api, log = make("live_migrate")
    body, _notification = aodh(payload())
    manager.handle_body(body, "webhook")
    assert api.calls[0] == ("GET", "%s/maintenance/sid-1/%s" % (API, PROJECT), None)
    assert api.puts() == [("%s/maintenance/sid-1/%s" % (API, PROJECT), {
        "state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {MINE[0]: "LIVE_MIGRATE", MINE[1]: "LIVE_MIGRATE"}})]
    assert [line["event"] for line in log.lines] == ["received", "instances", "decided", "replied"]
    assert log.events("replied")[0]["after_reply_at"] is False


def test_another_projects_notification_and_duplicates_are_ignored():
    manager, api, log = make()
    manager.handle_body(aodh(payload(project_id=OTHER))[0], "webhook")
    assert api.calls == [] and "not this VNFM's project" in log.events("ignored")[0]["reason"]
    body, _notification = aodh(payload())
    manager.handle_body(body, "webhook")
    manager.handle_body(body, "bus")
    assert len(api.puts()) == 1 and "duplicate" in log.events("ignored")[1]["reason"]


def test_host_events_are_not_for_a_vnfm():
    manager, api, log = make()
    host_event = notify.host_payload("sid-1", "compute1", "IN_MAINTENANCE", PROJECT)
    notification = notify.Notification(notify.HOST_EVENT, host_event)
    manager.handle_body(notify.oslo_envelope(notification), "bus")
    assert api.calls == [] and "maintenance.host" in log.events("ignored")[0]["reason"]


def test_silent_sends_nothing_and_nack_says_no():
    manager, api, log = make("silent")
    manager.handle_body(aodh(payload())[0], "webhook")
    assert api.puts() == [] and log.events("decided")[0]["reply"] is None
    manager, api, _log = make("live_migrate", overrides=["PLANNED_MAINTENANCE=nack"])
    manager.handle_body(aodh(payload())[0], "webhook")
    assert api.puts()[0][1] == {"state": "NACK_PLANNED_MAINTENANCE"}


def test_own_action_is_recorded_before_the_ack_and_per_instance_answers_use_instance_urls():
    manager, api, log = make("own_action", per_instance=True)
    manager.handle_body(aodh(payload("PREPARE_MAINTENANCE"))[0], "webhook")
    base = "%s/maintenance/sid-1/%s" % (API, PROJECT)
    assert api.puts() == [(base + "/" + iid, {"state": "ACK_PREPARE_MAINTENANCE", "instance_action": "OWN_ACTION"})
                          for iid in MINE]
    events = [line["event"] for line in log.lines]
    assert events.index("own_action") < events.index("replied")
    assert log.events("own_action")[0]["instance_ids"] == MINE


def test_a_one_instance_list_is_answered_per_instance_as_in_fenix_vnf_workflow():
    manager, api, _log = make("migrate")
    body = dict(payload(), instance_ids=[MINE[1]], reply_url="%s/maintenance/sid-1/%s/%s" % (API, PROJECT, MINE[1]))
    manager.handle_body(body, "webhook")
    assert [call[0] for call in api.calls] == ["PUT"]  # the list is in the notification: no GET
    assert api.puts() == [(body["reply_url"], {"state": "ACK_PLANNED_MAINTENANCE", "instance_action": "MIGRATE"})]


def test_instance_action_done_checks_the_instance_and_answers_nothing():
    statuses = [{MINE[0]: "MIGRATING"}, {MINE[0]: "MIGRATING"}, {MINE[0]: "ACTIVE"}]
    manager, api, log = make(statuses=statuses)
    manager.handle_body(aodh(payload("INSTANCE_ACTION_DONE", instance_id=MINE[0]))[0], "webhook")
    assert api.calls == []
    assert manager.cloud.asked == [[MINE[0]]] * 3  # waited while it was migrating
    assert log.events("checked")[0]["all_active"] is True


def test_maintenance_complete_checks_every_server_then_acks():
    manager, api, log = make(statuses={MINE[1]: "ERROR"})
    manager.handle_body(aodh(payload("MAINTENANCE_COMPLETE"))[0], "webhook")
    checked = log.events("checked")[0]
    assert checked["all_active"] is False and checked["statuses"][MINE[1]] == "ERROR"
    assert api.puts()[0][1] == {"state": "ACK_MAINTENANCE_COMPLETE"}


def test_late_answer_waits_and_is_dropped_when_stopping():
    manager, api, log = make("late=0.3")
    started = time.monotonic()
    manager.handle_body(aodh(payload("MAINTENANCE"))[0], "webhook")
    assert time.monotonic() - started >= 0.3 and api.puts()[0][1] == {"state": "ACK_MAINTENANCE"}
    manager, api, log = make("late=30")
    manager.stop.set()
    manager.handle_body(aodh(payload("MAINTENANCE"))[0], "webhook")
    assert api.puts() == [] and log.events("dropped")


def test_a_failed_answer_is_logged():
    manager, _api, log = make(api=FakeApi(status=409))
    manager.handle_body(aodh(payload())[0], "webhook")
    assert log.events("reply_failed")[0]["error"] == "HTTP 409" and not log.events("replied")


def test_constraints_from_the_server_group():
    manager, api, log = make("migrate")
    manager.set_constraints(API + "/", "aa-group", vnfm.ConstraintOptions(max_impacted=1, recovery_time=9))
    urls = [url for url, _body in api.puts()]
    assert urls == [API + "/instance_group/g-1", API + "/instance/" + MINE[0], API + "/instance/" + MINE[1]]
    group, first = api.puts()[0][1], api.puts()[1][1]
    assert group == {"group_id": "g-1", "project_id": PROJECT, "group_name": "aa-group", "anti_affinity_group": True,
                     "max_instances_per_host": 1, "max_impacted_members": 1, "recovery_time": 9,
                     "resource_mitigation": False}
    assert first["migration_type"] == "MIGRATE" and first["instance_name"] == "vm-0" and first["group_id"] == "g-1"
    assert len(log.events("constraints")) == 3


def test_webhook_answers_at_once_and_hands_the_body_on():
    manager, api, _log = make("late=0.5")
    server = vnfm.WebhookServer(("127.0.0.1", 0), manager)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d/maintenance" % server.server_address[1]
        data = json.dumps(aodh(payload("MAINTENANCE"))[0]).encode()
        started = time.monotonic()
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=5) as response:
            assert response.status == 200
        assert time.monotonic() - started < 0.5  # the late answer does not hold up AODH's POST
        with pytest.raises(HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, data=b"{nope", method="POST"), timeout=5)
        assert refused.value.code == 400
        server.wait_for_workers(5)
        assert api.puts()[0][1] == {"state": "ACK_MAINTENANCE"}
    finally:
        server.shutdown()
        server.server_close()


def test_command_line():
    args = vnfm.parse_args(["--cloud", "c", "--listen", "127.0.0.1:12360", "--policy", "migrate,late=2",
                            "--state-policy", "SCALE_IN=nack"])
    assert args.policies.default == vnfm.Policy("migrate", 2) and args.policies.for_state("SCALE_IN").kind == "nack"
    assert vnfm.listen_address("127.0.0.1:12360") == ("127.0.0.1", 12360)
    with pytest.raises(SystemExit):
        vnfm.parse_args(["--cloud", "c"])  # neither webhook nor bus
    with pytest.raises(SystemExit):
        vnfm.parse_args(["--cloud", "c", "--listen", ":1", "--policy", "maybe"])
    assert vnfm.kombu_url("rabbit://u:p@h1:5672,u:p@h2:5672/") == ("amqp://u:p@h1:5672/;amqp://u:p@h2:5672/", False)
