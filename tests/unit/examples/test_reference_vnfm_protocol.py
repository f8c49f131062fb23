"""The reference VNFM's protocol (examples/reference_vnfm/fenix_vnfm/protocol.py): data in, data out."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from fenix_vnfm import protocol
from vnfm_fakes import API, MINE, OTHER, PROJECT, aodh, payload

from ansible_collections.fenix.maintenance.plugins.module_utils.notify import notifier as notify

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
    assert protocol.decode_trait_value(raw) == expected


def test_aodh_body_of_the_real_sender_gives_back_the_payload():
    sent = payload()
    body, notification = aodh(sent)
    parsed = protocol.parse_notification(json.loads(json.dumps(body)))
    assert parsed.shape == "aodh"
    assert parsed.event_type == "maintenance.scheduled"
    assert parsed.message_id == notification.message_id
    # Datetime traits come back in ISO form; everything else exactly as sent.
    assert parsed.payload.pop("reply_at") == "2030-01-01T00:00:00"
    assert parsed.payload.pop("actions_at") == "2030-01-01T00:00:00"
    assert parsed.payload == {key: value for key, value in sent.items() if key not in ("reply_at", "actions_at")}
    assert protocol.parse_time("2030-01-01T00:00:00") == protocol.parse_time("2030-01-01 00:00:00")


def test_fenix_era_body_with_python_reprs_and_dict_traits():
    body = {"alarm_id": "a", "current": "alarm", "reason_data": {"type": "event", "event": {
        "message_id": "m-1", "event_type": "maintenance.scheduled", "traits": [
            {"name": "project_id", "type": "string", "value": PROJECT},
            ["allowed_actions", 1, "[u'MIGRATE', u'LIVE_MIGRATE', u'OWN_ACTION']"],
            ["instance_ids", 1, "http://127.0.0.1:12347/v1/maintenance/s/%s" % PROJECT],
            ["state", 1, "PREPARE_MAINTENANCE"],
            ["metadata", 1, "{u'openstack_release': u'Queens'}"],
            ["reply_at", 4, "2018-02-28T06:40:16"]]}}}
    parsed = protocol.parse_notification(body)
    assert parsed.payload["allowed_actions"] == ["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"]
    assert parsed.payload["metadata"] == {"openstack_release": "Queens"}
    assert parsed.project_id == PROJECT and parsed.state == "PREPARE_MAINTENANCE"


def test_bus_envelope_oslo_message_and_bare_payload():
    sent = payload("MAINTENANCE")
    notification = notify.Notification(notify.SCHEDULED, sent)
    envelope = json.loads(json.dumps(notify.oslo_envelope(notification)))
    parsed = protocol.parse_notification(envelope)
    assert (parsed.shape, parsed.payload, parsed.message_id) == ("oslo", sent, notification.message_id)
    assert protocol.parse_notification(notify.oslo_message(notification)).payload == sent
    bare = protocol.parse_notification(sent)
    assert bare.shape == "payload" and bare.event_type == "maintenance.scheduled" and bare.payload == sent


@pytest.mark.parametrize("body", [[], {"hello": "world"}, {"oslo.message": "{not json"},
                                  {"reason_data": {"event": {"traits": [["only-two", 1]]}}},
                                  {"reason_data": {"event": {"traits": [[3, 1, "no name"]]}}}])
def test_what_is_no_notification_is_refused(body):
    with pytest.raises(protocol.NotificationError):
        protocol.parse_notification(body)


@pytest.mark.parametrize("value, expected", [
    ("2030-01-01 00:00:00", datetime(2030, 1, 1, tzinfo=timezone.utc)),
    ("2030-01-01T00:00:00Z", datetime(2030, 1, 1, tzinfo=timezone.utc)),
    ("2030-01-01T00:00:00.250000", datetime(2030, 1, 1, 0, 0, 0, 250000, tzinfo=timezone.utc)),
    ("soon", None), ("", None), (None, None),
])
def test_reply_at_in_every_form_it_arrives_in(value, expected):
    assert protocol.parse_time(value) == expected


def test_reply_at_passes_only_when_it_is_readable_and_behind_us():
    now = datetime(2030, 1, 1, 0, 0, 1, tzinfo=timezone.utc)
    assert protocol.is_past("2030-01-01 00:00:00", now) is True
    assert protocol.is_past("2030-01-01 00:00:02", now) is False
    assert protocol.is_past(None, now) is False and protocol.is_past("never", now) is False


# ------------------------------------------------------------------ what is for us, and about which instances

def test_only_this_projects_scheduled_notifications_are_for_us():
    ours = protocol.parse_notification(payload())
    assert protocol.reason_not_for_us(ours, PROJECT) is None
    assert "not this VNFM's project %s" % OTHER in protocol.reason_not_for_us(ours, OTHER)
    host_payload = notify.host_payload("sid-1", "compute1", "IN_MAINTENANCE", PROJECT)
    host_event = notify.Notification(notify.HOST_EVENT, host_payload)
    parsed = protocol.parse_notification(notify.oslo_envelope(host_event))
    assert protocol.reason_not_for_us(parsed, PROJECT) == "event type maintenance.host is not maintenance.scheduled"


def test_instance_ids_are_a_url_to_read_or_the_list_itself():
    url = "%s/maintenance/sid-1/%s" % (API, PROJECT)
    assert protocol.listed_instance_ids(payload()) == (url, [])
    assert protocol.listed_instance_ids({"instance_ids": [MINE[1]]}) == (None, [MINE[1]])
    with pytest.raises(protocol.NotificationError, match="neither a URL nor a list"):
        protocol.listed_instance_ids({"instance_ids": "ftp://elsewhere"})
    with pytest.raises(protocol.NotificationError):
        protocol.listed_instance_ids({})


# ------------------------------------------------------------------ policy

@pytest.mark.parametrize("text, kind, delay", [
    ("live_migrate", "live_migrate", 0), ("MIGRATE", "migrate", 0), ("own_action", "own_action", 0),
    ("nack", "nack", 0), ("silent", "silent", 0), ("late=5", "live_migrate", 5),
    ("migrate,late=2.5", "migrate", 2.5), ("late=1, nack", "nack", 1),
])
def test_policies_parse(text, kind, delay):
    assert protocol.parse_policy(text) == protocol.Policy(kind, delay)


@pytest.mark.parametrize("text, message", [
    ("bogus", "use one of"), ("late=soon", "in seconds"), ("late=-1", "negative"),
    ("nack,migrate", "two answers"), ("silent,late=3", "never answers"),
])
def test_bad_policies_say_why(text, message):
    with pytest.raises(protocol.PolicyError, match=message):
        protocol.parse_policy(text)


def test_a_policy_describes_itself_as_it_is_written():
    assert protocol.parse_policy("migrate,late=2.5").describe() == "migrate,late=2.5"
    assert protocol.parse_policy("nack").describe() == "nack"
    assert protocol.parse_policy("own_action").action == "OWN_ACTION" and protocol.parse_policy("nack").action is None


def test_state_policies_override_the_default():
    book = protocol.PolicyBook.parse("live_migrate", ["scale_in=nack", "MAINTENANCE=late=3"])
    assert book.for_state("SCALE_IN").kind == "nack"
    assert book.for_state("MAINTENANCE") == protocol.Policy("live_migrate", 3)
    assert book.for_state("PLANNED_MAINTENANCE").kind == "live_migrate"
    with pytest.raises(protocol.PolicyError, match="STATE=POLICY"):
        protocol.PolicyBook.parse("live_migrate", ["INSTANCE_ACTION_DONE=nack"])


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
    decision = protocol.decide(protocol.parse_policy(policy), state, allowed)
    assert (decision.reply, decision.action) == (reply, action)


def test_late_policy_delays_the_answer():
    assert protocol.decide(protocol.parse_policy("late=7"), "MAINTENANCE", []).delay == 7


def test_a_substitute_action_says_why():
    decision = protocol.decide(protocol.parse_policy("live_migrate"), "PLANNED_MAINTENANCE", ["MIGRATE", "BOGUS"])
    assert decision.note == "ACK with MIGRATE: LIVE_MIGRATE is not offered (MIGRATE)"


# ------------------------------------------------------------------ replies

def test_instance_reply_url():
    project_url = "%s/maintenance/s/%s" % (API, PROJECT)
    assert protocol.instance_reply_url(project_url, MINE[0]) == project_url + "/" + MINE[0]
    assert protocol.instance_reply_url(project_url + "/", MINE[0]) == project_url + "/" + MINE[0]
    assert protocol.instance_reply_url(project_url + "/" + MINE[0], MINE[0]) == project_url + "/" + MINE[0]


ACK_LIVE = protocol.Decision("ACK_PLANNED_MAINTENANCE", "LIVE_MIGRATE", 0.0, "")


def test_one_project_answer_names_every_instance_action():
    project_url = "%s/maintenance/sid-1/%s" % (API, PROJECT)
    requests = protocol.reply_requests(payload(), ACK_LIVE, MINE, per_instance=False)
    assert requests == [protocol.ReplyRequest(project_url, {
        "state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {MINE[0]: "LIVE_MIGRATE", MINE[1]: "LIVE_MIGRATE"}})]
    nack = protocol.Decision("NACK_MAINTENANCE", None, 0.0, "")
    assert protocol.reply_requests(payload("MAINTENANCE"), nack, MINE, False)[0].body == {"state": "NACK_MAINTENANCE"}


def test_per_instance_answers_go_to_each_instance_url():
    project_url = "%s/maintenance/sid-1/%s" % (API, PROJECT)
    requests = protocol.reply_requests(payload(), ACK_LIVE, MINE, per_instance=True)
    assert requests == [protocol.ReplyRequest(project_url + "/" + iid, {
        "state": "ACK_PLANNED_MAINTENANCE", "instance_action": "LIVE_MIGRATE"}, iid) for iid in MINE]


def test_a_listed_instance_is_answered_at_its_own_reply_url_and_silence_sends_nothing():
    reply_url = "%s/maintenance/sid-1/%s/%s" % (API, PROJECT, MINE[1])
    listed = dict(payload(), instance_ids=[MINE[1]], reply_url=reply_url)
    assert [(request.url, request.instance_id) for request in
            protocol.reply_requests(listed, ACK_LIVE, [MINE[1]], per_instance=False)] == [(reply_url, MINE[1])]
    silent = protocol.Decision(None, None, 0.0, "")
    assert protocol.reply_requests(payload(), silent, MINE, per_instance=True) == []


# ------------------------------------------------------------------ constraints

GROUP = {"id": "g-1", "name": "aa-group", "policy": "anti-affinity", "members": list(MINE),
         "names": {MINE[0]: "vm-0", MINE[1]: "vm-1"}}


def test_constraint_requests_set_the_group_then_each_member():
    options = protocol.ConstraintOptions(max_impacted=1, recovery_time=9, lead_time=30)
    requests = protocol.constraint_requests(API + "/", GROUP, PROJECT, "MIGRATE", options)
    assert [url for url, _body in requests] == [API + "/instance_group/g-1", API + "/instance/" + MINE[0],
                                                API + "/instance/" + MINE[1]]
    assert requests[2][1] == {"instance_id": MINE[1], "project_id": PROJECT, "group_id": "g-1", "instance_name": "vm-1",
                              "max_interruption_time": 120, "migration_type": "MIGRATE", "resource_mitigation": False,
                              "lead_time": 30}


def test_the_vnf_group_overlaps_the_nova_group_in_its_last_member():
    options = protocol.ConstraintOptions(max_impacted=1, recovery_time=3, lead_time=5, vnf_group="vnf")
    loose = "loose-server"
    requests = protocol.vnf_group_requests(API, GROUP, sorted(MINE + [loose]), PROJECT, "LIVE_MIGRATE", options)
    group_id = protocol.vnf_group_id(PROJECT, "vnf")
    assert group_id == protocol.vnf_group_id(PROJECT, "vnf") != protocol.vnf_group_id(PROJECT, "other")
    assert [url for url, _body in requests] == [API + "/instance_group/" + group_id, API + "/instance/" + MINE[-1],
                                                API + "/instance/" + loose]
    assert requests[0][1] == {"group_id": group_id, "project_id": PROJECT, "group_name": "vnf",
                              "anti_affinity_group": False, "max_instances_per_host": None,
                              "max_impacted_members": 1, "recovery_time": 3, "resource_mitigation": False}
    assert {body["group_id"] for _url, body in requests[1:]} == {group_id}
    assert all(body["lead_time"] == 5 and body["migration_type"] == "LIVE_MIGRATE" for _url, body in requests[1:])


@pytest.mark.parametrize("policy, anti_affinity, per_host", [
    ("anti-affinity", True, 1), ("soft-anti-affinity", True, 1), ("affinity", False, None), (None, False, None),
])
def test_group_constraints_follow_the_nova_policy(policy, anti_affinity, per_host):
    body = protocol.group_constraints(dict(GROUP, policy=policy), PROJECT,
                                      protocol.ConstraintOptions(max_impacted=2, resource_mitigation=True))
    assert (body["anti_affinity_group"], body["max_instances_per_host"]) == (anti_affinity, per_host)
    assert body["max_impacted_members"] == 2 and body["resource_mitigation"] is True


# ------------------------------------------------------------------ checking after a move

def test_statuses_settle_and_are_all_active_only_when_every_server_is():
    assert protocol.all_settled({MINE[0]: "ACTIVE", MINE[1]: "SHUTOFF"}) is True
    assert protocol.all_settled({MINE[0]: "ACTIVE", MINE[1]: "MIGRATING"}) is False
    assert protocol.all_active({MINE[0]: "ACTIVE", MINE[1]: "ACTIVE"}) is True
    assert protocol.all_active({MINE[0]: "ACTIVE", MINE[1]: "NOT_FOUND"}) is False
    assert protocol.all_active({}) is False  # nothing to check is not "all is well"
