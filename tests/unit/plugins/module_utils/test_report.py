"""The run report from journal data written through the journal's own API (a SQLite file per test)."""

from __future__ import annotations

import json
import os
from xml.etree import ElementTree
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.report.build import (
    PHASES, ReportError, batch_times, build_report, time_spent)
from ansible_collections.fenix.maintenance.plugins.module_utils.report.render import (
    render_html,
    render_markdown,
    render_svg,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.report.report import (
    render,
    report_directory,
    write_report,
)
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = 'evil"><script>alert(1)</script>&'


class Clock:
    """One second later at every journal write, so every time in the report is known."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)

    def __call__(self) -> str:
        self.now += timedelta(seconds=1)
        return self.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def journal(tmp_path):
    return Journal(str(tmp_path / "journal.sqlite"), clock=Clock())


def maintain(journal, session_id, host, servers, plugins=("dummy",)):
    """A host's way through a batch, as the role records it: disable, move off, empty, plugins, enable."""
    journal.set_host(session_id, host, state="DISABLED", disabled_by_session=True)
    for server, project, action in servers:
        move = journal.start_move(session_id, server, project, action, host, "compute9")
        journal.finish_move(move, True, "compute9")
        journal.set_instance(session_id, server, project, host="compute9", action=action, action_done=True)
    journal.set_host(session_id, host, state="IN_MAINTENANCE")
    for plugin in plugins:
        journal.finish_action(journal.start_action(session_id, plugin, "host", host), True, {"changed": True})
    journal.set_host(session_id, host, disabled_by_session=False)
    journal.set_host(session_id, host, state="MAINTAINED", maintained=True)


def done_session(journal, hosts=("compute1", "compute2")):
    journal.create_session(list(hosts), session_id="s1")
    journal.notify_project("s1", "pa", "MAINTENANCE")
    journal.notify_project("s1", "pb", "MAINTENANCE")
    journal.record_reply("s1", "pa", "ACK_MAINTENANCE")
    journal.renotify_project("s1", "pb", None)
    journal.record_policy_reply("s1", "pb", None, "silent_policy=LIVE_MIGRATE")
    journal.set_session_state("s1", "PLANNED_MAINTENANCE")
    maintain(journal, "s1", hosts[0], [("vm1", "pa", "LIVE_MIGRATE"), ("vm2", "pb", "MIGRATE")])
    maintain(journal, "s1", hosts[1], [("vm3", "pa", "LIVE_MIGRATE")])
    journal.set_session_state("s1", "MAINTENANCE_DONE")
    return "s1"


def svg_rows(svg: str, kind: str) -> dict:
    root = ElementTree.fromstring(svg)
    return {group.get("data-" + kind): group for group in root.iter(SVG + "g")
            if (group.get("class") or "").split()[:2] == ["row", kind]}


def test_one_row_per_host_and_project_with_phases_in_order(journal):
    done_session(journal)
    report = build_report(journal, "s1")
    svg = render_svg(report)
    hosts, projects = svg_rows(svg, "host"), svg_rows(svg, "project")
    assert sorted(hosts) == ["compute1", "compute2"]
    assert sorted(projects) == ["pa", "pb"]
    for name, row in hosts.items():
        phases = [rect.get("data-phase") for rect in row.iter(SVG + "rect") if rect.get("data-phase")]
        assert phases == list(PHASES), name
        assert row.get("data-state") == "MAINTAINED"
    phases = report["hosts"][0]["phases"]
    assert [phase["phase"] for phase in phases] == list(PHASES)
    # Each phase ends before (or when) the next begins; only "enabled" runs to the end.
    for before, after in zip(phases, phases[1:]):
        assert before["end"] is not None and before["end"] <= after["start"]
    assert phases[-1]["end"] is None
    # The phases begin and end at the journal's own events for the host.
    events = [event for event in journal.events("s1") if event["host"] == "compute1"]
    first = {}
    for event in events:
        first.setdefault((event["kind"], event["details"].get("state")), event["at"])
    assert phases[0]["start"] == first[("host.state", "DISABLED")]
    assert phases[1]["start"] == phases[0]["end"] == first[("instance.move_started", None)]
    assert phases[1]["end"] == first[("host.state", "IN_MAINTENANCE")]
    assert phases[2]["start"] == first[("action.started", None)]
    assert phases[2]["end"] == first[("action.done", None)]
    assert phases[3]["start"] == first[("host.flags", None)]
    assert all(phase["seconds"] > 0 for phase in phases[:3])


def test_a_tick_per_move_on_the_host_it_left(journal):
    done_session(journal)
    report = build_report(journal, "s1")
    hosts = svg_rows(render_svg(report), "host")
    ticks = {name: [group for group in row.iter(SVG + "g") if "move" in (group.get("class") or "").split()]
             for name, row in hosts.items()}
    assert {name: len(groups) for name, groups in ticks.items()} == {"compute1": 2, "compute2": 1}
    tip = ticks["compute1"][0].find(SVG + "title").text
    move = report["moves"][0]
    assert move["instance_id"] == "vm1" and move["seconds"] > 0
    assert "vm1" in tip and "LIVE_MIGRATE" in tip and "compute9" in tip and "%.1f s" % move["seconds"] in tip
    assert len(report["moves"]) == 3 and all(move["state"] == "DONE" for move in report["moves"])


def test_projects_notifications_and_replies(journal):
    done_session(journal)
    projects = {item["project_id"]: item for item in build_report(journal, "s1")["projects"]}
    assert [item["reminder"] for item in projects["pb"]["notifications"]] == [False, True]
    assert projects["pb"]["replies"][0]["decided_by"] == "policy"
    assert projects["pa"]["replies"][0]["decided_by"] == "project"
    asked, replied = (next(event["at"] for event in journal.events("s1")
                           if event["project_id"] == "pa" and event["kind"] == kind)
                      for kind in ("project.notified", "project.reply"))
    assert projects["pa"]["replies"][0]["seconds"] == (
        datetime.strptime(replied, "%Y-%m-%dT%H:%M:%S.%fZ") - datetime.strptime(asked, "%Y-%m-%dT%H:%M:%S.%fZ")).total_seconds()
    row = svg_rows(render_svg(build_report(journal, "s1")), "project")["pb"]
    assert len([path for path in row.iter(SVG + "path") if "notification" in path.get("class")]) == 2
    assert [circle.get("data-decided-by") for circle in row.iter(SVG + "circle")] == ["policy"]


def test_unreachable_projects_and_who_decided_for_them(journal):
    done_session(journal)
    why = "no webhook URL and no bus: a project without a VNFM"
    for state in ("PLANNED_MAINTENANCE", "MAINTENANCE_COMPLETE"):  # two asks that never reached pb
        journal.notify_project("s1", "pb", state)
        journal.record_event("s1", "project.unreachable", project_id="pb",
                             details={"state": state, "reason": "no_vnfm", "why": why, "reminder": False})
        journal.record_policy_reply("s1", "pb", None, "silent_policy=LIVE_MIGRATE", at_once=state != "PLANNED_MAINTENANCE")
    report = build_report(journal, "s1")
    assert report["summary"]["unreachable"] == {"pb": {
        "asks": 2, "states": ["PLANNED_MAINTENANCE", "MAINTENANCE_COMPLETE"], "why": why,
        "decided_by": {"policy": 2, "project": 0, "none": 0}}}
    assert report["summary"]["projects"]["pb"]["decided_at_once"] == 1
    projects = {item["project_id"]: item for item in report["projects"]}
    assert [item["state"] for item in projects["pb"]["unreachable"]] == ["PLANNED_MAINTENANCE", "MAINTENANCE_COMPLETE"]
    assert projects["pa"]["unreachable"] == []
    assert [reply["at_once"] for reply in projects["pb"]["replies"]] == [False, False, True]
    markdown = render_markdown(report)
    assert "| project | asked | reminders | replies | by silent policy | median reply | unreachable |" in markdown
    assert ("| pb | 3 | 1 | 3 | 3 (1 at once) | 3.0 s | 2 asks: %s; decided by policy 2 |" % why) in markdown
    assert "| pa | 1 | 0 | 1 | 0 | 4.0 s | - |" in markdown
    tips = [circle.find(SVG + "title").text for circle in svg_rows(render_svg(report), "project")["pb"].iter(SVG + "circle")]
    assert tips[-1].endswith("(the operator's silent policy, at once: the project was silent before)")


def test_hostile_names_are_escaped_everywhere(journal):
    done_session(journal, hosts=("compute1", HOSTILE))
    journal.notify_project("s1", HOSTILE, "MAINTENANCE_COMPLETE")
    report = build_report(journal, "s1")
    documents = render(report, svg_name="s1.svg")
    assert "<script>" not in documents["svg"] and "<script>" not in documents["html"]
    assert "<script>" not in documents["markdown"]
    # Still well-formed, and the name is there as data.
    assert HOSTILE in svg_rows(documents["svg"], "host")
    assert HOSTILE in svg_rows(documents["svg"], "project")
    assert json.loads(documents["json"])["hosts"][1]["host"] == HOSTILE

    class Rows(HTMLParser):
        hosts = []

        def handle_starttag(self, tag, attrs):
            if tag == "tr" and dict(attrs).get("data-host"):
                self.hosts.append(dict(attrs)["data-host"])
    parser = Rows()
    parser.feed(documents["html"])
    assert parser.hosts == ["compute1", HOSTILE]
    # A pipe in a name does not break the Markdown table.
    assert all(line.count(" | ") in (0, 1, 6) for line in documents["markdown"].splitlines() if "compute" in line)


def test_empty_session(journal):
    journal.create_session([], session_id="empty")
    report = build_report(journal, "empty")
    assert report["hosts"] == [] and report["projects"] == [] and report["moves"] == []
    svg = render_svg(report)
    assert svg_rows(svg, "host") == {} and svg_rows(svg, "project") == {}
    assert "Maintenance session empty" in render_html(report)
    assert "## Hosts" in render_markdown(report)


def test_controller_hosts_have_their_plugin_runs_apart_from_the_session_hosts(journal):
    done_session(journal)
    for host, ok in (("ctl2", True), ("ctl1", True), ("ctl2", False)):
        journal.finish_action(journal.start_action("s1", "db_upgrade", "controller", host), ok, {"changed": ok})
    journal.finish_action(journal.start_action("s1", "notify_cmdb", "post"), True, {"changed": False})
    report = build_report(journal, "s1")
    assert [(item["host"], [(run["plugin"], run["type"], run["state"]) for run in item["plugin_runs"]])
            for item in report["controller_hosts"]] == [
        ("ctl2", [("db_upgrade", "controller", "DONE"), ("db_upgrade", "controller", "FAILED")]),
        ("ctl1", [("db_upgrade", "controller", "DONE")])]
    assert all(run["seconds"] > 0 for item in report["controller_hosts"] for run in item["plugin_runs"])
    # Not session hosts: no row of theirs; pre and post stay where they were.
    assert [host["host"] for host in report["hosts"]] == ["compute1", "compute2"]
    assert all(run["type"] == "host" for host in report["hosts"] for run in host["plugin_runs"])
    assert [run["plugin"] for run in report["controller_plugin_runs"]] == ["notify_cmdb"]
    assert sorted(svg_rows(render_svg(report), "host")) == ["compute1", "compute2"]


def test_failed_session_shows_the_failure(journal):
    journal.create_session(["compute1"], session_id="bad")
    journal.notify_project("bad", "pa", "MAINTENANCE")
    journal.record_reply("bad", "pa", "NACK_MAINTENANCE")
    journal.set_host("bad", "compute1", state="DISABLED", disabled_by_session=True)
    move = journal.start_move("bad", "vm1", "pa", "LIVE_MIGRATE", "compute1")
    journal.finish_move(move, False, None, "No valid host was found")
    journal.set_session_state("bad", "MAINTENANCE_FAILED", "compute1: NACK from pa")
    journal.set_host("bad", "compute1", state="FAILED")
    journal.set_host("bad", "compute1", disabled_by_session=False)
    report = build_report(journal, "bad")
    host = report["hosts"][0]
    assert [phase["phase"] for phase in host["phases"]] == ["disabled", "emptying", "enabled"]
    assert host["failed_at"] is not None and host["state"] == "FAILED"
    assert report["moves"][0]["state"] == "FAILED" and report["moves"][0]["error"] == "No valid host was found"
    svg = render_svg(report)
    row = svg_rows(svg, "host")["compute1"]
    assert any((group.get("class") or "") == "move failed" for group in row.iter(SVG + "g"))
    assert any((group.get("class") or "") == "failure" for group in row.iter(SVG + "g"))
    html = render_html(report)
    assert 'data-state="MAINTENANCE_FAILED"' in html and "NACK from pa" in html
    assert report["projects"][0]["replies"][0]["reply"] == "NACK_MAINTENANCE"


def test_files_are_written_beside_the_journal_and_only_when_changed(journal, tmp_path):
    done_session(journal)
    directory = report_directory(journal.path, None)
    assert directory == str(tmp_path / "reports")
    paths, changed = write_report(journal, "s1", directory)
    assert changed and sorted(os.path.basename(path) for path in paths.values()) == [
        "s1.html", "s1.json", "s1.md", "s1.svg"]
    assert "](s1.svg)" in open(paths["markdown"]).read()
    assert write_report(journal, "s1", directory) == (paths, False)
    journal.record_event("s1", "note")
    _paths, changed = write_report(journal, "s1", directory, check_mode=True)
    assert changed and json.load(open(paths["json"]))["timeline"]["end"] < journal.events("s1")[-1]["at"]
    assert not [name for name in os.listdir(directory) if name.startswith(".")], "a temporary file was left"


def test_postgresql_journal_needs_report_dir():
    with pytest.raises(ReportError, match="report_dir"):
        report_directory("postgresql://fenix@db.example/fenix", None)
    assert report_directory("postgresql://fenix@db.example/fenix", "/srv/reports") == "/srv/reports"


def test_names_beside_ids_when_the_run_recorded_them(journal):
    done_session(journal)
    journal.set_instance("s1", "vm1", "pa", details={"name": "web-1"})
    journal.record_event("s1", "project.named", project_id="pa", details={"project_name": "tenant-a"})
    report = build_report(journal, "s1")
    moves = {move["instance_id"]: move for move in report["moves"]}
    assert (moves["vm1"]["instance_name"], moves["vm1"]["project_name"]) == ("web-1", "tenant-a")
    assert (moves["vm2"]["instance_name"], moves["vm2"]["project_name"]) == (None, None)
    assert [(p["project_id"], p["project_name"]) for p in report["projects"]] == [("pa", "tenant-a"), ("pb", None)]
    documents = render(report)
    # The picture: rows keep their ids as data, the label shows the name, the tooltip both.
    projects = svg_rows(documents["svg"], "project")
    label = projects["pa"].find(SVG + "text")
    assert label.text == "tenant-a" and label.find(SVG + "title").text == "tenant-a (pa)"
    assert projects["pb"].find(SVG + "text").text == "pb"
    ticks = {group.get("data-instance"): group.find(SVG + "title").text
             for group in svg_rows(documents["svg"], "host")["compute1"].iter(SVG + "g") if group.get("data-instance")}
    assert ticks["vm1"].startswith("web-1 (vm1) (LIVE_MIGRATE) of project tenant-a (pa): compute1 to compute9")
    assert ticks["vm2"].startswith("vm2 (MIGRATE) of project pb: compute1 to compute9")

    class Cells(HTMLParser):
        rows, key = {}, None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.key = dict(attrs).get("data-instance") or dict(attrs).get("data-project")
                self.rows.setdefault(self.key, [])

        def handle_data(self, data):
            if self.key and data.strip():
                self.rows[self.key].append(data)
    parser = Cells()
    parser.feed(documents["html"])
    assert parser.rows["vm1"][:2] == ["web-1 (vm1)", "tenant-a (pa)"] and parser.rows["vm2"][:2] == ["vm2", "pb"]
    assert parser.rows["pa"][0] == "tenant-a (pa)" and parser.rows["pb"][0] == "pb"
    assert "| web-1 (vm1) | tenant-a (pa) | LIVE_MIGRATE |" in documents["markdown"]
    assert "| vm2 | pb | MIGRATE |" in documents["markdown"] and "| tenant-a (pa) | 1 | 0 | 1 |" in documents["markdown"]


def test_a_hostile_name_is_escaped_like_any_other(journal):
    done_session(journal)
    journal.set_instance("s1", "vm1", "pa", details={"name": HOSTILE})
    journal.record_event("s1", "project.named", project_id="pb", details={"project_name": HOSTILE})
    documents = render(build_report(journal, "s1"), svg_name="s1.svg")
    assert all("<script>" not in documents[name] for name in ("svg", "html", "markdown"))
    projects = svg_rows(documents["svg"], "project")
    assert projects["pb"].find(SVG + "text").find(SVG + "title").text == HOSTILE + " (pb)"


def test_the_same_journal_renders_the_same_bytes(journal):
    done_session(journal)
    first = render(build_report(journal, "s1"), svg_name="s1.svg")
    assert render(build_report(journal, "s1"), svg_name="s1.svg") == first


def test_a_later_run_taking_and_giving_back_the_lease_leaves_the_report_as_it_was(journal, tmp_path):
    done_session(journal)
    paths, changed = write_report(journal, "s1", str(tmp_path / "reports"))
    assert changed
    # What a second run of the finished session does (molecule's idempotence run): take the lease, read, give it back.
    journal.acquire_lease("s1", "second-run", ttl=60)
    assert journal.release_lease("s1", "second-run")
    assert [event["kind"] for event in journal.events("s1")][-2:] == ["lease.acquired", "lease.released"]
    assert write_report(journal, "s1", str(tmp_path / "reports")) == (paths, False)


def stamp(seconds: float) -> str:
    return (datetime(2026, 11, 22, 12, 0, 0) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_time_spent_says_where_the_session_went():
    """100 s: two overlapping moves (10-30 s, 20-40 s), a plugin (50-60 s) and a health gate that waited 5 s
    (60-65 s); tenant pa asked at 0 s, answering at 8 s; pb asked at 2 s, silent until its policy at 12 s, asked
    again at 70 s and never answering."""
    moves = [{"started_at": stamp(10), "ended_at": stamp(30)}, {"started_at": stamp(20), "ended_at": stamp(40)}]
    runs = [{"started_at": stamp(50), "ended_at": stamp(60)}]
    events = [{"kind": "host.healthy", "at": stamp(65), "details": {"waited": 5.0}}]
    projects = [
        {"project_id": "pa", "notifications": [{"at": stamp(0), "reminder": False}], "replies": [{"at": stamp(8)}]},
        {"project_id": "pb", "notifications": [{"at": stamp(2), "reminder": False}, {"at": stamp(7), "reminder": True},
                                               {"at": stamp(70), "reminder": False}],
         "replies": [{"at": stamp(12)}]},
    ]
    spent = time_spent(stamp(0), stamp(100), moves, runs, events, projects)
    assert spent == {
        "seconds": 100.0,
        "moving": 30.0,  # 10-40
        "plugins_and_checks": 15.0,  # 50-65
        "waiting_for_projects": 42.0,  # 0-12 and 70-100
        "waiting_by_project": {"pa": 8.0, "pb": 40.0},
        "other": 15.0,  # 40-50 and 65-70: nothing ran and nobody was waited for
        "busy": 45.0,
        "wall_per_busy": 2.22,
    }


def host_view(name: str, disabled: float, enabled: float) -> dict:
    return {"host": name, "phases": [{"phase": "disabled", "start": stamp(disabled)},
                                     {"phase": "emptying", "start": stamp(disabled + 1)},
                                     {"phase": "enabled", "start": stamp(enabled)}]}


def test_batches_are_the_hosts_down_together_with_where_their_time_went():
    """c1 and c2 down together (10-40 s and 12-42 s), then c3 (50-70 s); c4 was never disabled by the session.
    Moves 14-30 s and 52-60 s, one from 38 s to 55 s (across both batches) and one outside any batch (2-5 s);
    plugins and checks 31-38 s and 61-66 s."""
    hosts = [host_view("c3", 50, 70), host_view("c2", 12, 42), host_view("c1", 10, 40),
             {"host": "c4", "phases": [{"phase": "enabled", "start": stamp(80)}]}]
    moving = [(14.0, 30.0), (52.0, 60.0), (38.0, 55.0), (2.0, 5.0), None]
    working = [(31.0, 38.0), (61.0, 66.0)]
    assert batch_times(stamp(0), hosts, moving, working) == [
        # moving 14-30 and 38-42, plugins 31-38: 5 s of the rest (10-14 and 30-31)
        {"hosts": ["c1", "c2"], "start": 10.0, "seconds": 32.0, "moving": 20.0, "plugins_and_checks": 7.0,
         "other": 5.0},
        # moving 50-60, plugins 61-66: 5 s of the rest (60-61 and 66-70)
        {"hosts": ["c3"], "start": 50.0, "seconds": 20.0, "moving": 10.0, "plugins_and_checks": 5.0, "other": 5.0},
    ]


def test_the_report_has_each_batch_and_the_time_outside_them(journal):
    session_id = done_session(journal)
    report = build_report(journal, session_id)
    batches = report["batches"]
    assert [batch["hosts"] for batch in batches] == [["compute1"], ["compute2"]]
    for batch, host in zip(batches, report["hosts"]):
        phases = {phase["phase"]: phase for phase in host["phases"]}
        assert batch["seconds"] == round(
            (datetime.strptime(phases["enabled"]["start"], "%Y-%m-%dT%H:%M:%S.%fZ")
             - datetime.strptime(phases["disabled"]["start"], "%Y-%m-%dT%H:%M:%S.%fZ")).total_seconds(), 3)
        assert batch["moving"] > 0 and batch["plugins_and_checks"] > 0
        assert batch["other"] == round(batch["seconds"] - batch["moving"] - batch["plugins_and_checks"], 3)
    spent = report["time_spent"]
    assert spent["outside_batches"] == round(spent["seconds"] - sum(batch["seconds"] for batch in batches), 3)
    assert 0 < spent["outside_batches"] < spent["seconds"]
    markdown = render_markdown(report)
    assert "## Batches" in markdown and "| 1 | compute1 |" in markdown
    assert "outside the batches %.1f s" % spent["outside_batches"] in markdown


def test_the_pages_say_where_the_time_went(journal):
    done_session(journal)
    report = build_report(journal, "s1")
    spent = report["time_spent"]
    assert spent["moving"] > 0 and spent["plugins_and_checks"] > 0 and spent["waiting_by_project"]["pb"] > 0
    assert spent["busy"] <= spent["moving"] + spent["plugins_and_checks"]
    covered = spent["seconds"] - spent["other"]
    assert max(spent["busy"], spent["waiting_for_projects"]) <= covered <= spent["busy"] + spent["waiting_for_projects"]
    row = "| time spent | moving servers %.1f s, plugins and checks %.1f s, waiting for projects %.1f s (" % (
        spent["moving"], spent["plugins_and_checks"], spent["waiting_for_projects"])
    markdown = render_markdown(report)
    assert row in markdown and "; wall / busy %.2f |" % spent["wall_per_busy"] in markdown
    assert "<td>time spent</td><td>moving servers" in render_html(report)
