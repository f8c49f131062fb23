"""The reply rules as plain functions: no journal needed to know whether a reply fits the ask."""

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    InstanceRecord,
    JournalError,
    ProjectRecord,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.notify import reply_rules


def asked(state="PLANNED_MAINTENANCE", instance_ids=(), allowed_actions=("MIGRATE", "LIVE_MIGRATE")):
    return ProjectRecord("p1", state, None, {}, "t", 1, None, list(instance_ids), list(allowed_actions))


def instance(instance_id, reply=None, action=None):
    return InstanceRecord(instance_id, "p1", "compute1", None, action, False, reply=reply)


def test_a_reply_answers_the_state_asked():
    reply_rules.check_reply(asked(), "NACK_PLANNED_MAINTENANCE")
    with pytest.raises(JournalError, match="state: 'ACK_MAINTENANCE' does not answer PLANNED_MAINTENANCE;"
                                           " send ACK_PLANNED_MAINTENANCE or NACK_PLANNED_MAINTENANCE"):
        reply_rules.check_reply(asked(), "ACK_MAINTENANCE")


def test_asked_instances_are_those_named_else_all_of_the_project():
    every = [instance("vm-1"), instance("vm-2")]
    assert reply_rules.asked_instances(asked(instance_ids=["vm-2"]), every) == {"vm-2"}
    assert reply_rules.asked_instances(asked(), every) == {"vm-1", "vm-2"}


def test_a_project_reply_names_only_asked_instances_and_allowed_actions():
    project = asked(instance_ids=["vm-1"])
    reply_rules.check_project_reply(project, "ACK_PLANNED_MAINTENANCE", {"vm-1": "MIGRATE"}, {"vm-1"})
    with pytest.raises(JournalError, match="instance_actions: vm-2, vm-3 not instances of project p1"):
        reply_rules.check_project_reply(project, "ACK_PLANNED_MAINTENANCE", {"vm-3": "MIGRATE", "vm-2": "MIGRATE"},
                                        {"vm-1"})
    with pytest.raises(JournalError, match="'OWN_ACTION' is not allowed in state PLANNED_MAINTENANCE;"
                                           " allowed: MIGRATE, LIVE_MIGRATE"):
        reply_rules.check_project_reply(project, "ACK_PLANNED_MAINTENANCE", {"vm-1": "OWN_ACTION"}, {"vm-1"})
    with pytest.raises(JournalError, match="allowed: none"):
        reply_rules.check_action(asked("MAINTENANCE", allowed_actions=()), "MIGRATE")


def test_an_instance_reply_is_from_an_asked_instance():
    reply_rules.check_instance_reply(asked(), "vm-1", "ACK_PLANNED_MAINTENANCE", None, {"vm-1"})
    with pytest.raises(JournalError, match="instance vm-9 is not an instance of project p1 in this session"):
        reply_rules.check_instance_reply(asked(), "vm-9", "ACK_PLANNED_MAINTENANCE", "MIGRATE", {"vm-1"})


def test_the_project_answers_once_every_asked_instance_has_and_a_nack_wins():
    half = [instance("vm-1", "ACK_PLANNED_MAINTENANCE", "MIGRATE"), instance("vm-2")]
    assert reply_rules.project_answer(asked(), {"vm-1", "vm-2"}, half) is None
    both = [instance("vm-1", "ACK_PLANNED_MAINTENANCE", "MIGRATE"),
            instance("vm-2", "ACK_PLANNED_MAINTENANCE", "LIVE_MIGRATE")]
    assert reply_rules.project_answer(asked(), {"vm-1", "vm-2"}, both) == (
        "ACK_PLANNED_MAINTENANCE", {"vm-1": "MIGRATE", "vm-2": "LIVE_MIGRATE"})
    refused = [both[0], instance("vm-2", "NACK_PLANNED_MAINTENANCE")]
    assert reply_rules.project_answer(asked(), {"vm-1", "vm-2"}, refused) == (
        "NACK_PLANNED_MAINTENANCE", {"vm-1": "MIGRATE"})


def test_a_policy_answer_gives_every_asked_instance_the_action_when_the_state_offers_actions():
    assert reply_rules.policy_answer(asked(), "LIVE_MIGRATE", {"vm-2", "vm-1"}) == (
        "ACK_PLANNED_MAINTENANCE", {"vm-1": "LIVE_MIGRATE", "vm-2": "LIVE_MIGRATE"})
    assert reply_rules.policy_answer(asked("MAINTENANCE", allowed_actions=()), "LIVE_MIGRATE", {"vm-1"}) == (
        "ACK_MAINTENANCE", {})
    with pytest.raises(JournalError, match="instance action 'REBOOT' is not allowed"):
        reply_rules.policy_answer(asked(), "REBOOT", {"vm-1"})


def test_an_ask_offers_only_the_protocols_actions():
    reply_rules.check_allowed_actions(None)
    with pytest.raises(JournalError, match="allowed_actions: REBOOT unknown; use MIGRATE, LIVE_MIGRATE, OWN_ACTION"):
        reply_rules.check_allowed_actions(["REBOOT", "MIGRATE"])
    assert reply_rules.is_nack_reply("NACK_MAINTENANCE") and not reply_rules.is_nack_reply(None)


def test_eviction_is_the_projects_own_action():
    assert reply_rules.stored_action("EVICTION") == "OWN_ACTION"
    assert reply_rules.stored_action("MIGRATE") == "MIGRATE" and reply_rules.stored_action(None) is None
    reply_rules.check_action(asked(allowed_actions=("MIGRATE", "OWN_ACTION")), "EVICTION")
    with pytest.raises(JournalError, match="instance action 'EVICTION' is not allowed in state PLANNED_MAINTENANCE;"
                                           " allowed: MIGRATE, LIVE_MIGRATE"):
        reply_rules.check_action(asked(), "EVICTION")


def test_a_policy_answer_keeps_what_instances_answered_on_their_own_url():
    every = [instance("vm-1", "ACK_PLANNED_MAINTENANCE", "MIGRATE"), instance("vm-2"), instance("vm-3")]
    assert reply_rules.policy_answer(asked(), "LIVE_MIGRATE", {"vm-1", "vm-2", "vm-3"}, every) == (
        "ACK_PLANNED_MAINTENANCE", {"vm-1": "MIGRATE", "vm-2": "LIVE_MIGRATE", "vm-3": "LIVE_MIGRATE"})
    refused = [instance("vm-1", "NACK_PLANNED_MAINTENANCE"), instance("vm-2")]
    assert reply_rules.policy_answer(asked(), "LIVE_MIGRATE", {"vm-1", "vm-2"}, refused) == (
        "NACK_PLANNED_MAINTENANCE", {"vm-2": "LIVE_MIGRATE"})


def test_a_state_without_actions_gives_none_whatever_the_instances_hold():
    # An instance's action of an earlier ask (PLANNED) is no answer to MAINTENANCE.
    earlier = [instance("vm-1", "ACK_MAINTENANCE", "MIGRATE")]
    assert reply_rules.project_answer(asked("MAINTENANCE", allowed_actions=()), {"vm-1"}, earlier) == (
        "ACK_MAINTENANCE", {})


@pytest.mark.parametrize("constraint, policy, action", [
    (None, "MIGRATE", "MIGRATE"),
    ({"migration_type": "LIVE_MIGRATE"}, "MIGRATE", "LIVE_MIGRATE"),
    ({"migration_type": "EVICTION"}, "LIVE_MIGRATE", "OWN_ACTION"),
    ({"max_interruption_time": 5}, "MIGRATE", "LIVE_MIGRATE"),
    ({"max_interruption_time": 0}, "MIGRATE", "LIVE_MIGRATE"),
    ({"max_interruption_time": 20}, "MIGRATE", "MIGRATE"),  # a cold move's planned 20 s fits
    ({"max_interruption_time": 5}, "LIVE_MIGRATE", "LIVE_MIGRATE"),
    ({"migration_type": "MIGRATE"}, None, None),  # a state without actions: nothing to give
])
def test_the_policy_action_bends_to_the_instances_constraint(constraint, policy, action):
    assert reply_rules.policy_action_for(constraint, policy) == action
