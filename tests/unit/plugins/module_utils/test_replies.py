import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import JournalError
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import allowed_actions_for
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.replies import (
    ReplyWaiter,
    WaitSettings,
    latency,
)


def asked_journal(location, state="PLANNED_MAINTENANCE"):
    journal = Journal(location)
    journal.create_session(["compute1"], session_id="s1")
    for project_id, instances in (("p1", ["i1", "i2"]), ("p2", ["i3"])):
        for instance_id in instances:
            journal.set_instance("s1", instance_id, project_id, host="compute1")
        journal.notify_project("s1", project_id, state, instances, allowed_actions_for(state),
                               "2026-12-01 02:00:00", "2026-12-01 01:00:00")
    return journal


class FakeTime:
    """A clock that moves only when the code sleeps; ``at`` runs callbacks at given times."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []
        self.events = []

    def at(self, moment, callback):
        self.events.append((moment, callback))
        self.events.sort(key=lambda item: item[0])

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        while self.events and self.events[0][0] <= self.now:
            self.events.pop(0)[1]()


def waiter(journal, settings, fake, reminded=None):
    reminded = reminded if reminded is not None else []

    def remind(projects):
        reminded.append([p.project_id for p in projects])
        for project in projects:
            journal.renotify_project("s1", project.project_id, "2026-12-01 01:05:00")

    return ReplyWaiter(journal, "s1", "PLANNED_MAINTENANCE", settings, remind, clock=fake.clock, sleep=fake.sleep)


# journal: reminders and answers by policy, on both backends

def test_reminder_counts_but_never_drops_a_reply(location):
    journal = asked_journal(location)
    reminded = journal.renotify_project("s1", "p1", "2026-12-01 01:05:00")
    assert reminded.notify_count == 2 and reminded.reply_at == "2026-12-01 01:05:00"
    journal.record_reply("s1", "p2", "ACK_PLANNED_MAINTENANCE", {"i3": "MIGRATE"})
    assert journal.renotify_project("s1", "p2", "2026-12-01 01:05:00") is None
    assert journal.project("s1", "p2").reply == "ACK_PLANNED_MAINTENANCE"
    assert journal.project("s1", "p2").notify_count == 1
    kinds = [(e["kind"], e["project_id"], e["details"].get("reminder")) for e in journal.events("s1")]
    assert ("project.notified", "p1", True) in kinds


def test_policy_reply_acks_every_asked_instance_and_says_so(location):
    journal = asked_journal(location)
    decided = journal.record_policy_reply("s1", "p1", "LIVE_MIGRATE", policy="silent_policy=LIVE_MIGRATE")
    assert decided.reply == "ACK_PLANNED_MAINTENANCE"
    assert decided.instance_actions == {"i1": "LIVE_MIGRATE", "i2": "LIVE_MIGRATE"}
    event = [e for e in journal.events("s1") if e["kind"] == "project.reply"][-1]
    assert event["details"]["decided_by"] == "policy" and event["details"]["policy"] == "silent_policy=LIVE_MIGRATE"
    # a project that answered keeps its answer
    journal.record_reply("s1", "p2", "NACK_PLANNED_MAINTENANCE")
    assert journal.record_policy_reply("s1", "p2", "MIGRATE", policy="x") is None
    assert journal.project("s1", "p2").reply == "NACK_PLANNED_MAINTENANCE"


def test_policy_reply_without_instance_actions_in_states_that_offer_none(location):
    journal = asked_journal(location, state="MAINTENANCE")
    decided = journal.record_policy_reply("s1", "p1", "LIVE_MIGRATE", policy="x")
    assert decided.reply == "ACK_MAINTENANCE" and decided.instance_actions == {}


def test_policy_reply_refuses_an_action_the_state_does_not_allow(tmp_path):
    journal = asked_journal(str(tmp_path / "j.sqlite"))
    with pytest.raises(JournalError, match="instance action 'REBOOT' is not allowed"):
        journal.record_policy_reply("s1", "p1", "REBOOT", policy="x")


# waiting

def test_returns_when_everyone_has_answered(tmp_path):
    journal, fake = asked_journal(str(tmp_path / "j.sqlite")), FakeTime()
    fake.at(3, lambda: journal.record_reply("s1", "p1", "ACK_PLANNED_MAINTENANCE",
                                            {"i1": "MIGRATE", "i2": "OWN_ACTION"}))
    fake.at(5, lambda: journal.record_instance_reply("s1", "p2", "i3", "ACK_PLANNED_MAINTENANCE", "LIVE_MIGRATE"))
    outcome = waiter(journal, WaitSettings(timeout=60, poll_interval=2), fake).wait()
    outcome = waiter(journal, WaitSettings(timeout=60), fake).explain(outcome)
    assert outcome.silent == [] and outcome.waited == 6 and fake.sleeps == [2, 2, 2]
    assert outcome.decided_by == {"p1": "replied", "p2": "replied"}
    assert {p.project_id: p.instance_actions for p in outcome.projects} == {
        "p1": {"i1": "MIGRATE", "i2": "OWN_ACTION"}, "p2": {"i3": "LIVE_MIGRATE"}}
    assert not outcome.changed()


def test_reminders_are_spread_over_the_timeout_then_the_policy_decides(tmp_path):
    journal, fake, reminded = asked_journal(str(tmp_path / "j.sqlite")), FakeTime(), []
    fake.at(4, lambda: journal.record_reply("s1", "p1", "ACK_PLANNED_MAINTENANCE"))
    settings = WaitSettings(timeout=30, poll_interval=5, renotify=2, silent_policy="LIVE_MIGRATE")
    wait = waiter(journal, settings, fake, reminded)
    outcome = wait.explain(wait.apply_policy(wait.wait()))
    assert reminded == [["p2"], ["p2"]]  # at 10 s and 20 s; p1 answered at 4 s
    assert outcome.waited == 30 and outcome.silent == []
    assert outcome.answered_by_policy == ["p2"] and outcome.changed()
    assert outcome.decided_by == {"p1": "replied", "p2": "policy"}
    p2 = journal.project("s1", "p2")
    assert p2.notify_count == 3 and p2.instance_actions == {"i3": "LIVE_MIGRATE"}
    # a later run sees the policy's answer as such, and changes nothing
    again = waiter(journal, settings, fake).look()
    assert again.decided_by["p2"] == "policy" and not again.changed()


def test_fail_policy_leaves_the_silent_silent(tmp_path):
    journal, fake = asked_journal(str(tmp_path / "j.sqlite")), FakeTime()
    wait = waiter(journal, WaitSettings(timeout=5, poll_interval=2), fake)
    outcome = wait.apply_policy(wait.wait())
    assert outcome.silent == ["p1", "p2"] and outcome.waited == 5 and fake.sleeps == [2, 2, 1]
    assert journal.project("s1", "p1").reply is None


def test_a_nack_ends_the_wait_at_once(tmp_path):
    journal, fake = asked_journal(str(tmp_path / "j.sqlite")), FakeTime()
    fake.at(2, lambda: journal.record_reply("s1", "p2", "NACK_PLANNED_MAINTENANCE"))
    wait = waiter(journal, WaitSettings(timeout=60, poll_interval=2, silent_policy="MIGRATE"), fake)
    outcome = wait.apply_policy(wait.wait())
    assert outcome.nacked == ["p2"] and outcome.waited == 2
    assert journal.project("s1", "p1").reply is None  # no policy answer after a refusal


def test_latency_is_from_notification_to_answer():
    from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import ProjectRecord

    record = ProjectRecord("p1", "MAINTENANCE", "ACK_MAINTENANCE", {}, "2026-12-01T01:00:00.000000Z", 1,
                           "2026-12-01T01:00:04.500000Z")
    assert latency(record) == 4.5
