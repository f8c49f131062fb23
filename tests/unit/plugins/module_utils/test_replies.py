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


# projects that cannot be reached: the notifier records why, the waiter treats them as silent

def notifier_for(journal, urls, retries=1):
    from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import Notifier

    params = {"api_url": "http://127.0.0.1:12347/v1", "reply_timeout": 30,
              "webhook": {"urls": urls, "discover_from_aodh": False, "retries": retries, "retry_delay": 0,
                          "timeout": 2}}
    return Notifier(journal, params, lambda: None, sleep=lambda seconds: None)


def test_a_project_without_url_and_a_refusing_webhook_are_unreachable_then_the_policy_decides(tmp_path):
    from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import asks_from_list
    from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.session import session_summary

    journal, fake = Journal(str(tmp_path / "j.sqlite")), FakeTime()
    session = journal.create_session(["compute1"], session_id="s1")
    closed = "http://127.0.0.1:9/hook"  # nothing listens: every connection is refused
    notifier = notifier_for(journal, {"p2": closed})  # p1 has no URL and there is no bus: no VNFM
    state = "PLANNED_MAINTENANCE"
    asks = asks_from_list([{"project_id": "p1", "instance_ids": ["i1"]}, {"project_id": "p2", "instance_ids": ["i2"]}],
                          state, None, None)
    sent = notifier.ask_and_send(session, asks)
    assert [(item["project_id"], item["unreachable"]["reason"]) for item in sent] == [
        ("p1", "no_vnfm"), ("p2", "undelivered")]
    assert sent[1]["deliveries"]["webhook"]["posts"][0]["attempts"] == 2  # the ask and its one retry

    settings = WaitSettings(timeout=30, poll_interval=5, renotify=1, silent_policy="MIGRATE")
    wait = ReplyWaiter(journal, "s1", state, settings, lambda projects: notifier.remind(session, projects),
                       clock=fake.clock, sleep=fake.sleep)
    outcome = wait.explain(wait.apply_policy(wait.wait()))
    assert outcome.reminded == [["p1", "p2"]]  # the reminder is one more delivery attempt for each
    assert outcome.waited == 30 and outcome.silent == []
    assert outcome.answered_by_policy == ["p1", "p2"] and outcome.decided_by == {"p1": "policy", "p2": "policy"}
    assert outcome.unreachable["p1"] == "no webhook URL and no bus: a project without a VNFM"
    assert outcome.unreachable["p2"].startswith("webhook %s: " % closed)
    assert outcome.unreachable["p2"].endswith("after 2 attempts")
    assert journal.project("s1", "p2").instance_actions == {"i2": "MIGRATE"}
    unreachable = [(e["project_id"], e["details"]["reminder"]) for e in journal.events("s1")
                   if e["kind"] == "project.unreachable"]
    assert unreachable == [("p1", False), ("p2", False), ("p1", True), ("p2", True)]

    summary = session_summary(journal, journal.session("s1"))
    assert summary["unreachable"]["p1"] == {"asks": 1, "states": [state], "decided_by": {"policy": 1, "project": 0, "none": 0},
                                            "why": "no webhook URL and no bus: a project without a VNFM"}
    assert summary["unreachable"]["p2"]["decided_by"] == {"policy": 1, "project": 0, "none": 0}


def test_a_reminder_that_gets_through_makes_the_project_reachable_again(tmp_path):
    from webhook_server import WebhookServer

    from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import asks_from_list

    journal, fake = Journal(str(tmp_path / "j.sqlite")), FakeTime()
    session = journal.create_session(["compute1"], session_id="s1")
    with WebhookServer(statuses=[503, 503]) as hook:  # down for the ask and its retry, up for the reminder
        notifier = notifier_for(journal, {"p1": hook.url()})
        notifier.ask_and_send(session, asks_from_list([{"project_id": "p1", "instance_ids": ["i1"]}],
                                                      "MAINTENANCE", None, None))
        wait = ReplyWaiter(journal, "s1", "MAINTENANCE", WaitSettings(timeout=10, poll_interval=5, renotify=1),
                           lambda projects: notifier.remind(session, projects), clock=fake.clock, sleep=fake.sleep)
        assert wait.look().unreachable == {"p1": "webhook %s: HTTP 503 after 2 attempts" % hook.url()}
        outcome = wait.explain(wait.wait())
        assert len(hook.bodies) == 3
    assert outcome.reminded == [["p1"]] and outcome.unreachable == {} and outcome.silent == ["p1"]


# silence costs once: the session's silent_projects setting

def ask(journal, state, projects=("p1", "p2")):
    for project_id in projects:
        instances = {"p1": ["i1", "i2"], "p2": ["i3"]}[project_id]
        journal.notify_project("s1", project_id, state, instances, allowed_actions_for(state), None, None)


def test_decide_at_once_answers_for_a_project_silent_before_and_asks_again_one_that_answered(tmp_path):
    journal, fake = asked_journal(str(tmp_path / "j.sqlite")), FakeTime()
    settings = WaitSettings(timeout=60, poll_interval=5, silent_policy="LIVE_MIGRATE", silent_projects="decide_at_once")
    # first batch: p1 answers, p2 stays silent until the deadline and the policy decides for it
    fake.at(5, lambda: journal.record_reply("s1", "p1", "ACK_PLANNED_MAINTENANCE"))
    first = waiter(journal, settings, fake)
    first = first.apply_policy(first.wait())
    assert first.waited == 60 and first.answered_by_policy == ["p2"] and first.decided_at_once == []

    # second batch: p2 is answered for at once; p1, which answered, is waited for again
    ask(journal, "PLANNED_MAINTENANCE")
    fake.at(fake.now + 10, lambda: journal.record_reply("s1", "p1", "ACK_PLANNED_MAINTENANCE"))
    second = waiter(journal, settings, fake)
    predicted = second.look()
    assert predicted.decided_at_once == ["p2"] and journal.project("s1", "p2").reply is None  # look decides nothing
    second = second.explain(second.apply_policy(second.wait()))
    assert second.waited == 10 and second.silent == []
    assert second.decided_at_once == ["p2"] and second.answered_by_policy == ["p2"]
    assert second.decided_by == {"p1": "replied", "p2": "policy"}
    assert journal.project("s1", "p2").instance_actions == {"i3": "LIVE_MIGRATE"}
    event = [e for e in journal.events("s1") if e["kind"] == "project.reply" and e["project_id"] == "p2"][-1]
    assert event["details"]["at_once"] is True
    assert event["details"]["policy"] == ("silent_policy=LIVE_MIGRATE; silent_projects=decide_at_once"
                                          " (silent at PLANNED_MAINTENANCE)")

    # p2 answers late (its own answer replaces the policy's): the next state waits for it again
    journal.record_reply("s1", "p2", "ACK_PLANNED_MAINTENANCE", {"i3": "MIGRATE"})
    ask(journal, "MAINTENANCE_COMPLETE")
    fake.at(fake.now + 3, lambda: journal.record_reply("s1", "p2", "ACK_MAINTENANCE_COMPLETE"))
    fake.at(fake.now + 4, lambda: journal.record_reply("s1", "p1", "ACK_MAINTENANCE_COMPLETE"))
    third = ReplyWaiter(journal, "s1", "MAINTENANCE_COMPLETE", settings, lambda projects: None,
                        clock=fake.clock, sleep=fake.sleep)
    third = third.explain(third.apply_policy(third.wait()))
    assert third.decided_at_once == [] and third.answered_by_policy == []
    assert third.decided_by == {"p1": "replied", "p2": "replied"}


def test_ask_again_waits_for_the_silent_project_every_time(tmp_path):
    journal, fake = asked_journal(str(tmp_path / "j.sqlite")), FakeTime()
    settings = WaitSettings(timeout=60, poll_interval=5, silent_policy="MIGRATE")  # silent_projects=ask_again
    for _batch in range(2):
        fake.at(fake.now + 5, lambda: journal.record_reply("s1", "p1", "ACK_PLANNED_MAINTENANCE"))
        wait = waiter(journal, settings, fake)
        outcome = wait.apply_policy(wait.wait())
        assert outcome.waited == 60 and outcome.answered_by_policy == ["p2"] and outcome.decided_at_once == []
        ask(journal, "PLANNED_MAINTENANCE")
    assert fake.now == 120


def test_decide_at_once_has_nothing_to_decide_with_the_fail_policy(tmp_path):
    journal, fake = asked_journal(str(tmp_path / "j.sqlite")), FakeTime()
    journal.record_policy_reply("s1", "p2", "MIGRATE", policy="silent_policy=MIGRATE")  # silent at the first ask
    ask(journal, "PLANNED_MAINTENANCE", ["p2"])
    wait = waiter(journal, WaitSettings(timeout=5, poll_interval=5, silent_projects="decide_at_once"), fake)
    outcome = wait.apply_policy(wait.wait())
    assert outcome.decided_at_once == [] and outcome.silent == ["p1", "p2"] and outcome.waited == 5


@pytest.mark.parametrize("silent_projects, later_attempts", [("ask_again", 3), ("decide_at_once", 1)])
def test_a_webhook_unreachable_before_gets_one_attempt_with_decide_at_once(tmp_path, silent_projects, later_attempts):
    from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import asks_from_list

    journal = Journal(str(tmp_path / "j.sqlite"))
    session = journal.create_session(["compute1"], session_id="s1", silent_projects=silent_projects)
    notifier = notifier_for(journal, {"p1": "http://127.0.0.1:9/hook"}, retries=2)

    def ask_p1(state):
        asks = asks_from_list([{"project_id": "p1", "instance_ids": ["i1"]}], state, None, None)
        return notifier.ask_and_send(session, asks)[0]["deliveries"]["webhook"]["posts"][0]["attempts"]

    assert ask_p1("MAINTENANCE") == 3  # the first ask tries as often as configured
    journal.record_policy_reply("s1", "p1", "MIGRATE", policy="silent_policy=MIGRATE")
    assert ask_p1("PLANNED_MAINTENANCE") == later_attempts
