"""The reference VNFM in Fenix's vnf workflow (--workflow vnf), as Doctor's VNFM speaks it, and the trait forms."""

from __future__ import annotations

import json

import pytest
from fenix_vnfm import cli, protocol
from vnfm_fakes import API, MINE, PROJECT, aodh, make, payload

from ansible_collections.fenix.maintenance.plugins.module_utils.notify import notifier as notify

INSTANCE_URL = "%s/maintenance/sid-1/%s/%s" % (API, PROJECT, MINE[1])


def asked_about(instance_id=MINE[1], state="PLANNED_MAINTENANCE"):
    """The per-instance question of a vnf session, built by the collection's own sender."""
    return payload(state, instance_id=instance_id)


def test_the_senders_python_literal_traits_come_back_as_the_payload():
    sent = asked_about()
    body, _notification = aodh(sent)
    traits = {name: value for name, _kind, value in body["reason_data"]["event"]["traits"]}
    assert traits["instance_ids"] == "['%s']" % MINE[1]
    assert traits["allowed_actions"] == "['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION']"
    assert traits["metadata"] == "{'release': 'next'}"
    parsed = protocol.parse_notification(json.loads(json.dumps(body))).payload
    assert parsed.pop("reply_at") == parsed.pop("actions_at") == "2030-01-01T00:00:00"
    assert parsed == {key: value for key, value in sent.items() if key not in ("reply_at", "actions_at")}


@pytest.mark.parametrize("raw, expected", [
    ("['MIGRATE', 'LIVE_MIGRATE']", ["MIGRATE", "LIVE_MIGRATE"]),
    ('["MIGRATE", "LIVE_MIGRATE"]', ["MIGRATE", "LIVE_MIGRATE"]),
    ("{'release': 'next', 'reboot': True, 'window': None}", {"release": "next", "reboot": True, "window": None}),
])
def test_both_text_forms_of_a_list_or_dict_trait_are_read(raw, expected):
    assert protocol.decode_trait_value(raw) == expected


def test_a_vnf_question_names_one_instance_and_lists_the_actions():
    assert protocol.vnf_instance(asked_about()) == MINE[1]
    with pytest.raises(protocol.NotificationError, match="vnf workflow: instance_ids of PLANNED_MAINTENANCE is not a"
                                                         " list naming the instance asked about: 'http://"):
        protocol.vnf_instance(payload())  # the default workflow's URL
    with pytest.raises(protocol.NotificationError, match="vnf workflow: allowed_actions of PLANNED_MAINTENANCE is"
                                                         " not a list: 'MIGRATE'"):
        protocol.vnf_instance(dict(asked_about(), allowed_actions="MIGRATE"))


def test_the_vnf_answer_goes_to_the_notifications_reply_url_with_the_session():
    decision = protocol.Decision("ACK_PLANNED_MAINTENANCE", "MIGRATE", 0.0, "")
    assert protocol.vnf_reply_requests(asked_about(), decision, MINE[1]) == [protocol.ReplyRequest(
        INSTANCE_URL, {"state": "ACK_PLANNED_MAINTENANCE", "instance_action": "MIGRATE", "session_id": "sid-1"},
        MINE[1])]
    nack = protocol.Decision("NACK_PLANNED_MAINTENANCE", None, 0.0, "")
    assert protocol.vnf_reply_requests(asked_about(), nack, MINE[1])[0].body == {
        "state": "NACK_PLANNED_MAINTENANCE", "session_id": "sid-1"}
    assert protocol.vnf_reply_requests(asked_about(), protocol.Decision(None, None, 0.0, ""), MINE[1]) == []
    with pytest.raises(protocol.NotificationError, match="carries no reply_url"):
        protocol.vnf_reply_requests(dict(asked_about(), reply_url=None), decision, MINE[1])


def test_a_vnf_vnfm_answers_with_the_migration_type_it_set():
    manager, api, log = make("live_migrate", overrides=["PLANNED_MAINTENANCE=migrate"], workflow="vnf")
    manager.set_constraints(API, "aa-group", protocol.ConstraintOptions(lead_time=40))
    assert manager.migration_types == {MINE[0]: "MIGRATE", MINE[1]: "MIGRATE"}
    del api.calls[:]
    # PREPARE's own policy says LIVE_MIGRATE; the answer names the instance's migration_type, as Doctor's does.
    manager.handle_body(aodh(asked_about(state="PREPARE_MAINTENANCE"))[0], "webhook")
    assert api.calls == [("PUT", INSTANCE_URL, {"state": "ACK_PREPARE_MAINTENANCE", "instance_action": "MIGRATE",
                                                "session_id": "sid-1"})]  # no GET: the instance is in the question
    assert log.events("instances")[0]["instance_ids"] == [MINE[1]]
    assert log.events("replied")[0]["instance_id"] == MINE[1]


def test_a_vnf_vnfm_without_constraints_answers_with_its_policy_and_acts_on_eviction():
    manager, api, log = make("own_action", workflow="vnf")
    manager.handle_body(aodh(asked_about(MINE[0]))[0], "webhook")
    assert api.puts() == [("%s/maintenance/sid-1/%s/%s" % (API, PROJECT, MINE[0]), {
        "state": "ACK_PLANNED_MAINTENANCE", "instance_action": "OWN_ACTION", "session_id": "sid-1"})]
    assert log.events("own_action")[0]["instance_ids"] == [MINE[0]]


def test_a_vnf_vnfm_refuses_a_project_level_question_and_answers_nothing():
    manager, api, log = make("migrate", workflow="vnf")
    manager.handle_body(aodh(payload())[0], "webhook")  # what a default session sends
    assert api.calls == []
    assert log.events("error")[0]["error"].startswith("NotificationError: vnf workflow: instance_ids of"
                                                      " PLANNED_MAINTENANCE is not a list")


def test_a_vnf_vnfm_answers_the_other_states_for_the_project():
    manager, api, _log = make("live_migrate", workflow="vnf")
    manager.handle_body(aodh(payload("MAINTENANCE"))[0], "webhook")
    project_url = "%s/maintenance/sid-1/%s" % (API, PROJECT)
    assert api.calls == [("GET", project_url, None), ("PUT", project_url, {"state": "ACK_MAINTENANCE"})]


def test_the_workflow_option():
    assert cli.parse_args(["--cloud", "c", "--listen", ":1"]).workflow == "default"
    assert cli.parse_args(["--cloud", "c", "--listen", ":1", "--workflow", "vnf"]).workflow == "vnf"
    with pytest.raises(SystemExit):
        cli.parse_args(["--cloud", "c", "--listen", ":1", "--workflow", "k8s"])


def test_the_sender_and_the_vnfm_agree_on_the_instance_url():
    assert asked_about()["reply_url"] == notify.instance_url(API, "sid-1", PROJECT, MINE[1]) == INSTANCE_URL
