"""The session's workflow (default | vnf): per-instance asks, their replies, reminders, the policy and the summary.

Fenix's vnf workflow asks PREPARE_MAINTENANCE and PLANNED_MAINTENANCE one
instance at a time, as OPNFV Doctor's VNFM and Tacker's Fenix plugin expect
(../shared/research/fenix-protocol.md 1.3, 2.3 and 3.2); the journal keeps
the project's ask, and the instances' answers make up the project's.
"""

from __future__ import annotations

import ast

import pytest
import yaml

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import JournalError
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.notify import notifier as notify
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import ProjectAsk, allowed_actions_for
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.replies import ReplyWaiter, WaitSettings
from webhook_server import WebhookServer

API = "http://127.0.0.1:12347/v1"
PLANNED = "PLANNED_MAINTENANCE"
ACTIONS = ["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"]


def new_session(tmp_path, workflow="vnf", name="j.sqlite"):
    journal = Journal(str(tmp_path / name))
    return journal, journal.create_session(["compute1"], workflow=workflow, session_id="s1")


def sender(journal, hook, projects=("p1", "p2")):
    params = {"api_url": API, "reply_timeout": 60, "metadata": None,
              "webhook": {"urls": {project_id: hook.url("/" + project_id) for project_id in projects},
                          "discover_from_aodh": False, "retries": 0, "retry_delay": 0, "timeout": 5}}
    return notify.Notifier(journal, params, lambda: None)


def ask(project_id, state=PLANNED, instances=("i1", "i2")):
    return ProjectAsk(project_id, state, list(instances), allowed_actions_for(state), "2030-01-01 00:00:00",
                      "2030-01-01 00:00:00")


def traits(body):
    return {name: value for name, _kind, value in body["reason_data"]["event"]["traits"]}


def asked_directly(journal, instances=("i1", "i2"), allowed=tuple(ACTIONS), project_id="p1"):
    """The journal as notify_project leaves it after asking ``project_id`` about PLANNED_MAINTENANCE."""
    for instance_id in instances:
        journal.set_instance("s1", instance_id, project_id, host="compute1")
    journal.notify_project("s1", project_id, PLANNED, list(instances), list(allowed))


def constrain(journal, instance_id, migration_type, project_id="p1"):
    journal.set_constraint("instance", instance_id, project_id,
                           {"instance_id": instance_id, "project_id": project_id, "migration_type": migration_type})


# ------------------------------------------------------------------ what is sent

@pytest.mark.parametrize("state", ["PREPARE_MAINTENANCE", PLANNED])
def test_a_vnf_session_asks_prepare_and_planned_per_instance(tmp_path, state):
    journal, session = new_session(tmp_path)
    with WebhookServer() as hook:
        sent = sender(journal, hook).ask_and_send(session, [ask("p1", state)])
        bodies = list(hook.bodies)
    project_url = API + "/maintenance/s1/p1"
    assert [item["payload"] for item in sent] == [{
        "service": "fenix", "project_id": "p1", "session_id": "s1", "state": state,
        "instance_ids": [instance_id], "allowed_actions": ACTIONS,
        "actions_at": "2030-01-01 00:00:00", "reply_at": "2030-01-01 00:00:00", "metadata": {},
        "reply_url": "%s/%s" % (project_url, instance_id)} for instance_id in ("i1", "i2")]
    assert [item["delivered"] for item in sent] == [True, True]
    # On the wire, as AODH delivers list traits: Python literals that Tacker's eval() and Doctor's yaml read.
    assert [path for path, _body in bodies] == ["/p1", "/p1"]
    first = traits(bodies[0][1])
    assert first["instance_ids"] == "['i1']" and first["reply_url"] == project_url + "/i1"
    assert first["allowed_actions"] == "['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION']"
    assert ast.literal_eval(first["instance_ids"]) == yaml.safe_load(first["instance_ids"]) == ["i1"]
    assert yaml.safe_load(first["allowed_actions"]) == ACTIONS
    # The journal keeps the project's one ask, with its instances.
    project = journal.project("s1", "p1")
    assert (project.state, project.instance_ids, project.notify_count) == (state, ["i1", "i2"], 1)
    asked = [e for e in journal.events("s1") if e["kind"] == "project.notified"]
    assert [e["details"]["instances"] for e in asked] == [2]


@pytest.mark.parametrize("workflow, state", [
    ("vnf", "MAINTENANCE"), ("vnf", "SCALE_IN"), ("vnf", "MAINTENANCE_COMPLETE"), ("default", PLANNED),
    ("default", "PREPARE_MAINTENANCE"),
])
def test_other_states_and_the_default_workflow_ask_per_project(tmp_path, workflow, state):
    journal, session = new_session(tmp_path, workflow)
    with WebhookServer() as hook:
        sent = sender(journal, hook).ask_and_send(session, [ask("p1", state)])
        assert len(hook.bodies) == 1
    assert len(sent) == 1
    payload = sent[0]["payload"]
    assert payload["instance_ids"] == payload["reply_url"] == API + "/maintenance/s1/p1"
    assert payload["allowed_actions"] == (ACTIONS if state in ("PREPARE_MAINTENANCE", PLANNED) else [])


def test_only_prepare_and_planned_are_asked_per_instance():
    payload = notify.scheduled_payload(API, "s1", "p1", PLANNED, instance_id="i1")
    assert (payload["instance_ids"], payload["reply_url"]) == (["i1"], API + "/maintenance/s1/p1/i1")
    with pytest.raises(notify.NotifyError, match="instance_id: MAINTENANCE is asked per project; only"
                                                 " PREPARE_MAINTENANCE and PLANNED_MAINTENANCE are asked per instance"):
        notify.scheduled_payload(API, "s1", "p1", "MAINTENANCE", instance_id="i1")


def test_an_unreachable_project_asked_per_instance_is_unreachable_once(tmp_path):
    journal, session = new_session(tmp_path)
    with WebhookServer() as hook:
        sent = sender(journal, hook, projects=("p1",)).ask_and_send(session, [ask("p1"), ask("p3", instances=["i7", "i8"])])
    assert [(item["project_id"], item["delivered"], bool(item["unreachable"])) for item in sent] == [
        ("p1", True, False), ("p1", True, False), ("p3", False, True), ("p3", False, False)]
    assert notify.unreachable_projects(sent) == [{"project_id": "p3", "state": PLANNED, "reason": notify.NO_VNFM,
                                                  "why": "no webhook URL and no bus: a project without a VNFM"}]
    unreachable = [e for e in journal.events("s1") if e["kind"] == notify.UNREACHABLE_EVENT]
    assert [e["project_id"] for e in unreachable] == ["p3"]


def test_reminders_ask_again_about_the_instances_without_an_answer(tmp_path):
    journal, session = new_session(tmp_path)
    with WebhookServer() as hook:
        notifier = sender(journal, hook)
        notifier.ask_and_send(session, [ask("p1", instances=["i1", "i2", "i3"])])
        journal.record_instance_reply("s1", "p1", "i2", "ACK_" + PLANNED, "MIGRATE")
        del hook.bodies[:]
        reminded = notifier.remind(session, [journal.project("s1", "p1")])
        bodies = list(hook.bodies)
    assert [item["payload"]["instance_ids"] for item in reminded] == [["i1"], ["i3"]]
    assert [traits(body)["reply_url"] for _path, body in bodies] == [
        API + "/maintenance/s1/p1/i1", API + "/maintenance/s1/p1/i3"]
    project = journal.project("s1", "p1")
    assert project.notify_count == 2 and project.reply is None
    # The default workflow reminds the project once, with its whole ask.
    journal2, session2 = new_session(tmp_path, "default", name="default.sqlite")
    with WebhookServer() as hook:
        notifier = sender(journal2, hook)
        notifier.ask_and_send(session2, [ask("p1")])
        reminded = notifier.remind(session2, [journal2.project("s1", "p1")])
    assert [item["payload"]["instance_ids"] for item in reminded] == [API + "/maintenance/s1/p1"]


# ------------------------------------------------------------------ the answers

def test_instance_replies_make_the_project_answer_and_take_the_migration_type(tmp_path):
    journal, _session = new_session(tmp_path)
    asked_directly(journal, ["i1", "i2", "i3"])
    constrain(journal, "i1", "MIGRATE")
    constrain(journal, "i2", "EVICTION")
    assert journal.record_instance_reply("s1", "p1", "i1", "ACK_" + PLANNED).reply is None
    journal.record_instance_reply("s1", "p1", "i2", "ACK_" + PLANNED)
    project = journal.record_instance_reply("s1", "p1", "i3", "ACK_" + PLANNED, "EVICTION")
    # EVICTION, as migration_type (i2) and as instance_action (i3), is the project's own action.
    assert (project.reply, project.instance_actions) == (
        "ACK_" + PLANNED, {"i1": "MIGRATE", "i2": "OWN_ACTION", "i3": "OWN_ACTION"})
    replies = {e["instance_id"]: e["details"] for e in journal.events("s1") if e["kind"] == "instance.reply"}
    assert replies == {
        "i1": {"reply": "ACK_" + PLANNED, "action": "MIGRATE", "from_constraint": True},
        "i2": {"reply": "ACK_" + PLANNED, "action": "OWN_ACTION", "from_constraint": True, "given": "EVICTION"},
        "i3": {"reply": "ACK_" + PLANNED, "action": "OWN_ACTION", "given": "EVICTION"}}
    assert {record.instance_id: record.action for record in journal.instances("s1")} == {
        "i1": "MIGRATE", "i2": "OWN_ACTION", "i3": "OWN_ACTION"}


def test_an_answer_without_action_and_without_constraint_has_no_action(tmp_path):
    journal, _session = new_session(tmp_path)
    asked_directly(journal, ["i1"])
    journal.set_instance("s1", "i1", "p1", action="LIVE_MIGRATE")  # an earlier ask's answer
    constrain(journal, "i1", "MIGRATE", project_id="p2")  # another project's record counts for nothing
    project = journal.record_instance_reply("s1", "p1", "i1", "ACK_" + PLANNED)
    assert (project.reply, project.instance_actions) == ("ACK_" + PLANNED, {})
    assert journal.instances("s1")[0].action is None


def test_a_migration_type_the_ask_does_not_allow_is_refused_naming_the_fix(tmp_path):
    journal, _session = new_session(tmp_path)
    asked_directly(journal, ["i1"], allowed=["MIGRATE", "LIVE_MIGRATE"])
    constrain(journal, "i1", "EVICTION")
    with pytest.raises(JournalError) as refused:
        journal.record_instance_reply("s1", "p1", "i1", "ACK_" + PLANNED)
    assert str(refused.value) == (
        "instance_action: none given, so the instance's migration_type counts, and instance action 'EVICTION'"
        " is not allowed in state PLANNED_MAINTENANCE; allowed: MIGRATE, LIVE_MIGRATE; send instance_action")
    assert journal.instances("s1")[0].reply is None
    assert not [e for e in journal.events("s1") if e["kind"] == "instance.reply"]
    # A NACK needs no action: the constraint is not consulted.
    assert journal.record_instance_reply("s1", "p1", "i1", "NACK_" + PLANNED).reply == "NACK_" + PLANNED


def test_the_policy_decides_only_for_the_instances_that_did_not_answer(tmp_path):
    journal, _session = new_session(tmp_path)
    asked_directly(journal, ["i1", "i2", "i3"])
    journal.record_instance_reply("s1", "p1", "i1", "ACK_" + PLANNED, "MIGRATE")
    project = journal.record_policy_reply("s1", "p1", "LIVE_MIGRATE", policy="silent_policy=LIVE_MIGRATE")
    assert (project.reply, project.instance_actions) == (
        "ACK_" + PLANNED, {"i1": "MIGRATE", "i2": "LIVE_MIGRATE", "i3": "LIVE_MIGRATE"})
    decided = [e["details"] for e in journal.events("s1") if e["kind"] == "project.reply"]
    assert decided[-1]["decided_by"] == "policy" and decided[-1]["decided_instances"] == ["i2", "i3"]


def test_waiting_gives_the_policy_action_to_unconstrained_instances_of_a_vnf_session(tmp_path):
    journal, _session = new_session(tmp_path)
    asked_directly(journal, ["i1", "i2"])
    asked_directly(journal, ["i5"], project_id="p2")  # silent, no constraint: the policy decides for it too
    constrain(journal, "i1", "MIGRATE")
    journal.record_instance_reply("s1", "p1", "i1", "ACK_" + PLANNED)
    journal.record_instance_reply("s1", "p1", "i2", "ACK_" + PLANNED)  # no action, no constraint
    assert journal.project("s1", "p1").instance_actions == {"i1": "MIGRATE"}
    waiter = ReplyWaiter(journal, "s1", PLANNED, WaitSettings(timeout=0, silent_policy="LIVE_MIGRATE"),
                         remind=lambda projects: None, sleep=lambda seconds: None)
    outcome = waiter.apply_policy(waiter.wait())
    assert outcome.policy_actions == {"p1": ["i2"]} and outcome.answered_by_policy == ["p2"] and outcome.changed()
    assert journal.project("s1", "p1").instance_actions == {"i1": "MIGRATE", "i2": "LIVE_MIGRATE"}
    assert journal.project("s1", "p1").reply == "ACK_" + PLANNED  # the project's own answer
    assert journal.project("s1", "p2").instance_actions == {"i5": "LIVE_MIGRATE"}
    decided = [e["details"] for e in journal.events("s1") if e["kind"] == "project.policy_actions"]
    assert decided == [{"state": PLANNED, "action": "LIVE_MIGRATE", "instances": ["i2"], "decided_by": "policy",
                        "policy": "silent_policy=LIVE_MIGRATE (no action and no migration_type)",
                        "instance_actions": {"i2": "LIVE_MIGRATE"}}]


@pytest.mark.parametrize("workflow", ["default", "vnf"])
def test_the_silent_policy_never_overrides_a_constraint(tmp_path, workflow):
    """A silent project's migration_type stands; a cold move its max_interruption_time forbids is made live."""
    journal, _session = new_session(tmp_path, workflow=workflow)
    asked_directly(journal, ["own", "evicted", "short", "long", "free"])
    constrain(journal, "own", "OWN_ACTION")
    constrain(journal, "evicted", "EVICTION")
    for instance_id, limit in (("short", 5), ("long", 600)):
        journal.set_constraint("instance", instance_id, "p1", {"instance_id": instance_id, "project_id": "p1",
                                                               "max_interruption_time": limit})
    project = journal.record_policy_reply("s1", "p1", "MIGRATE", policy="silent_policy=MIGRATE")
    assert project.instance_actions == {"own": "OWN_ACTION", "evicted": "OWN_ACTION", "short": "LIVE_MIGRATE",
                                        "long": "MIGRATE", "free": "MIGRATE"}


def test_the_default_workflow_leaves_an_instance_without_action_to_the_plan(tmp_path):
    journal, _session = new_session(tmp_path, "default")
    asked_directly(journal, ["i2"])
    journal.record_instance_reply("s1", "p1", "i2", "ACK_" + PLANNED)
    waiter = ReplyWaiter(journal, "s1", PLANNED, WaitSettings(timeout=0, silent_policy="LIVE_MIGRATE"),
                         remind=lambda projects: None, sleep=lambda seconds: None)
    outcome = waiter.apply_policy(waiter.wait())
    assert outcome.policy_actions == {} and journal.project("s1", "p1").instance_actions == {}
