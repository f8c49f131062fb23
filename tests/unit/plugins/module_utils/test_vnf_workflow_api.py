"""The session's workflow at the API (POST /v1/maintenance, per-instance replies) and in the session summary."""

from __future__ import annotations

import pytest
from falcon import testing

from ansible_collections.fenix.maintenance.plugins.module_utils.api.app import ServiceConfig, build
from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import LaunchSettings
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.replies import ReplyWaiter, WaitSettings
from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.session import session_summary

PLANNED = "PLANNED_MAINTENANCE"
ACTIONS = ["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"]


@pytest.fixture
def api(tmp_path):
    journal = str(tmp_path / "api.sqlite")
    app, _service = build(ServiceConfig(journal=journal, auth="none", launch=LaunchSettings(kind="none")))
    client = testing.TestClient(app)
    client.journal = Journal(journal)
    return client


def test_an_unknown_workflow_is_refused_naming_the_known_ones(api):
    answer = api.simulate_post("/v1/maintenance", json={"hosts": [], "state": "MAINTENANCE", "workflow": "k8s"})
    assert answer.status_code == 400
    assert answer.json["error"]["message"] == "workflow: 'k8s' is not one of ['default', 'vnf']"
    assert api.journal.sessions() == []
    created = api.simulate_post("/v1/maintenance", json={"state": "MAINTENANCE", "workflow": "vnf"})
    assert created.status_code == 200
    assert api.journal.session(created.json["session_id"]).workflow == "vnf"


def asked(journal, session_id, instances, project_id="p1"):
    for instance_id in instances:
        journal.set_instance(session_id, instance_id, project_id, host="compute1")
    journal.notify_project(session_id, project_id, PLANNED, list(instances), ACTIONS)


def test_a_doctor_shaped_instance_reply_takes_the_migration_type(api):
    sid = api.simulate_post("/v1/maintenance", json={"state": "MAINTENANCE", "workflow": "vnf"}).json["session_id"]
    asked(api.journal, sid, ["i1", "i2"])
    stored = api.simulate_put("/v1/instance/i1", json={"instance_id": "i1", "project_id": "p1",
                                                       "migration_type": "EVICTION", "lead_time": 40})
    assert stored.status_code == 200, stored.text
    base = "/v1/maintenance/%s/p1/" % sid
    # As Doctor's VNFM sends it: no instance id in the body, session_id as an extra field.
    first = api.simulate_put(base + "i1", json={"state": "ACK_" + PLANNED, "session_id": sid})
    assert first.status_code == 200, first.text
    assert first.json == {"state": "ACK_" + PLANNED, "instance_action": "OWN_ACTION", "project_state": None}
    body = {"state": "ACK_" + PLANNED, "instance_action": "MIGRATE", "session_id": sid}
    second = api.simulate_put(base + "i2", json=body)
    assert second.json == {"state": "ACK_" + PLANNED, "instance_action": "MIGRATE", "project_state": "ACK_" + PLANNED}
    assert api.journal.project(sid, "p1").instance_actions == {"i1": "OWN_ACTION", "i2": "MIGRATE"}
    refused = api.simulate_put(base + "i2", json={"state": "ACK_" + PLANNED, "instance_action": "REBOOT"})
    assert refused.status_code == 400 and "instance_action: 'REBOOT' is not one of" in refused.text


def test_a_default_workflow_vnfm_answers_an_instance_url_in_the_project_form(api):
    sid = api.simulate_post("/v1/maintenance", json={"state": "MAINTENANCE", "workflow": "vnf"}).json["session_id"]
    asked(api.journal, sid, ["i1", "i2"])
    base = "/v1/maintenance/%s/p1/" % sid
    answer = api.simulate_put(base + "i1", json={"state": "ACK_" + PLANNED, "instance_actions": {"i1": "MIGRATE"}})
    assert answer.status_code == 200 and answer.json["instance_action"] == "MIGRATE", answer.text
    # The form's action for another instance does not answer this one.
    other = api.simulate_put(base + "i2", json={"state": "ACK_" + PLANNED, "instance_actions": {"i1": "OWN_ACTION"}})
    assert other.status_code == 200 and other.json["instance_action"] is None, other.text
    assert api.journal.project(sid, "p1").instance_actions == {"i1": "MIGRATE"}
    refused = api.simulate_put(base + "i2", json={"state": "ACK_" + PLANNED, "instance_actions": {"i2": "REBOOT"}})
    assert refused.status_code == 400 and "REBOOT" in refused.json["error"]["message"]


def test_the_summary_names_the_instances_without_constraints_of_a_vnf_session(tmp_path):
    journal = Journal(str(tmp_path / "j.sqlite"))
    session = journal.create_session(["compute1"], workflow="vnf", session_id="s1")
    asked(journal, "s1", ["i1", "i2"])
    asked(journal, "s1", ["i5"], project_id="p2")  # silent, no constraint: the policy decides for it too
    journal.set_constraint("instance", "i1", "p1", {"instance_id": "i1", "project_id": "p1", "migration_type": "MIGRATE"})
    journal.record_instance_reply("s1", "p1", "i1", "ACK_" + PLANNED)
    journal.record_instance_reply("s1", "p1", "i2", "ACK_" + PLANNED)  # no action, no constraint
    assert session_summary(journal, session)["unconstrained_instances"] == {
        "i2": {"project_id": "p1", "decided_by_policy": []}, "i5": {"project_id": "p2", "decided_by_policy": []}}
    waiter = ReplyWaiter(journal, "s1", PLANNED, WaitSettings(timeout=0, silent_policy="LIVE_MIGRATE"),
                         remind=lambda projects: None, sleep=lambda seconds: None)
    waiter.apply_policy(waiter.wait())
    assert session_summary(journal, session)["unconstrained_instances"] == {
        "i2": {"project_id": "p1", "decided_by_policy": [PLANNED]},
        "i5": {"project_id": "p2", "decided_by_policy": [PLANNED]}}


def test_the_default_workflow_summary_has_no_unconstrained_instances(tmp_path):
    journal = Journal(str(tmp_path / "j.sqlite"))
    session = journal.create_session(["compute1"], session_id="s1")
    asked(journal, "s1", ["i1"])
    assert session_summary(journal, session)["unconstrained_instances"] == {}
