"""Bad input at the API answers 4xx naming the field, and changes nothing (lab auth, a faked Nova)."""

from __future__ import annotations

import pytest
from falcon import testing

from ansible_collections.fenix.maintenance.plugins.module_utils.api.app import ServiceConfig, build
from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import LaunchSettings
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

from fakes import FakeCloud

PLANNED = "PLANNED_MAINTENANCE"


@pytest.fixture
def cloud():
    return FakeCloud()


@pytest.fixture
def api(tmp_path, cloud):
    journal = str(tmp_path / "api.sqlite")
    app, _service = build(ServiceConfig(journal=journal, auth="none", cloud="test", launch=LaunchSettings(kind="none")),
                          connect=lambda: cloud)
    client = testing.TestClient(app)
    client.journal = Journal(journal)
    return client


def message(answer) -> str:
    return answer.json["error"]["message"]


def test_hosts_another_running_session_holds_are_refused_naming_it(api):
    first = api.simulate_post("/v1/maintenance", json={"hosts": ["compute1", "compute2"], "session_id": "first"})
    assert first.status_code == 200, first.text
    again = api.simulate_post("/v1/maintenance", json={"hosts": ["compute3", "compute2"], "session_id": "second"})
    assert again.status_code == 409
    assert message(again) == ("hosts: compute2 held by running session first; end that session or leave its hosts out")
    everything = api.simulate_post("/v1/maintenance", json={"session_id": "third"})  # every host: compute1 too
    assert everything.status_code == 409 and "compute1, compute2 held by running session first" in message(everything)
    assert [session.session_id for session in api.journal.sessions()] == ["first"]
    # Once that session ended, its hosts are free again.
    api.journal.set_session_state("first", "MAINTENANCE_DONE")
    assert api.simulate_post("/v1/maintenance", json={"hosts": ["compute2"], "session_id": "second"}).status_code == 200


def test_hosts_nova_does_not_know_are_refused(api):
    answer = api.simulate_post("/v1/maintenance", json={"hosts": ["compute1", "compute9"]})
    assert answer.status_code == 400
    assert message(answer) == ("hosts: no nova-compute service on compute9; known hosts: compute1, compute2, compute3")
    assert api.journal.sessions() == []


@pytest.mark.parametrize("path, body, field", [
    ("/v1/instance_group/g1", {"group_id": "g1", "max_impacted_members": -1}, "max_impacted_members"),
    ("/v1/instance_group/g1", {"group_id": "g1", "recovery_time": 2 ** 31}, "recovery_time"),
    ("/v1/instance_group/g1", {"group_id": "g1", "max_instances_per_host": "two"}, "max_instances_per_host"),
    ("/v1/instance/i1", {"instance_id": "i1", "lead_time": -5}, "lead_time"),
    ("/v1/instance/i1", {"instance_id": "i1", "max_interruption_time": 1.5}, "max_interruption_time"),
    ("/v1/instance/i1", {"instance_id": "i1", "migration_type": "REBOOT"}, "migration_type"),
])
def test_constraint_values_out_of_range_are_refused_naming_the_field(api, path, body, field):
    answer = api.simulate_put(path, json=dict(body, project_id="p1"))
    assert answer.status_code == 400 and message(answer).startswith(field + ": "), answer.text
    assert api.journal.constraints("instance_group") == [] and api.journal.constraints("instance") == []


def test_a_reply_for_an_instance_not_asked_about_or_an_action_not_allowed_is_refused(api):
    sid = api.simulate_post("/v1/maintenance", json={"hosts": ["compute1"], "workflow": "vnf"}).json["session_id"]
    api.journal.set_instance(sid, "i1", "p1", host="compute1")
    api.journal.notify_project(sid, "p1", PLANNED, ["i1"], ["LIVE_MIGRATE", "MIGRATE"])
    base = "/v1/maintenance/%s/p1/" % sid
    stranger = api.simulate_put(base + "i9", json={"state": "ACK_" + PLANNED, "instance_action": "MIGRATE"})
    assert 400 <= stranger.status_code < 500 and "i9" in message(stranger), stranger.text
    not_allowed = api.simulate_put(base + "i1", json={"state": "ACK_" + PLANNED, "instance_action": "OWN_ACTION"})
    assert 400 <= not_allowed.status_code < 500, not_allowed.text
    assert message(not_allowed) == ("instance action 'OWN_ACTION' is not allowed in state PLANNED_MAINTENANCE;"
                                    " allowed: LIVE_MIGRATE, MIGRATE")
    project_reply = {"state": "ACK_" + PLANNED, "instance_actions": {"i9": "MIGRATE"}}
    project_form = api.simulate_put("/v1/maintenance/%s/p1" % sid, json=project_reply)
    assert 400 <= project_form.status_code < 500 and "i9" in message(project_form), project_form.text
    project = api.journal.project(sid, "p1")
    assert project.reply is None and project.instance_actions == {}
