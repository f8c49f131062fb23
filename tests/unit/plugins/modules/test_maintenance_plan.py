import os
from types import SimpleNamespace

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.model import label_of
from ansible_collections.fenix.maintenance.plugins.module_utils.report.build import build_report
from ansible_collections.fenix.maintenance.plugins.modules import maintenance_plan
from ansible_collections.fenix.maintenance.plugins.modules.maintenance_plan import MaintenancePlanModule
from fakes import FakeCloud
from module_runner import run_module


def group(group_id, policy, members):
    return SimpleNamespace(id=group_id, name=group_id + "-name", policy=policy, policies=None, member_ids=list(members))


def seeded(servers_per_host=2):
    """4 hosts of 8 vCPU; an anti-affinity group with members on compute1..3, as the test cloud has."""
    cloud = FakeCloud(hosts=("compute1", "compute2", "compute3", "compute4"))
    members = [cloud.add_server(host, name="aa-" + host) for host in ("compute1", "compute2", "compute3")]
    for host in cloud.services:
        for index in range(servers_per_host):
            cloud.add_server(host, project_id="p%d" % (index % 2 + 1))
    cloud.groups = [group("aa", "anti-affinity", members)]
    return cloud, members


def test_plans_every_host_read_only(tmp_path):
    cloud, members = seeded()
    result = run_module(MaintenancePlanModule, {"journal": str(tmp_path / "j.sqlite"), "max_unavailable": {}}, cloud,
                        check_mode=True)
    assert not result["failed"] and result["changed"] is False
    assert sum(result["serial"]) == 4 and result["serial"] == [1, 1, 1, 1]  # 25% of 4 hosts per zone
    assert result["blockers"] == [] and result["scale_in"] is None
    assert result["prepare_host"] == "compute4"  # fewest servers, none empty
    assert {p["project_id"] for p in result["projects"]} == {"p1", "p2"}
    placement = {server_id: cloud.servers[server_id].compute_host for server_id in cloud.servers}
    for batch in result["plan"]["batches"]:
        for wave in batch["waves"]:
            for move in wave:
                assert move["to_host"] not in batch["hosts"]
                placement[move["server_id"]] = move["to_host"]
        aa_hosts = [placement[m] for m in members]
        assert len(aa_hosts) == len(set(aa_hosts)), "two aa members on one host"
    # nothing moved, nothing disabled, no journal made
    assert not cloud.calls["compute.live_migrate_server"] and not cloud.calls["compute.disable_service"]
    assert not os.path.exists(tmp_path / "j.sqlite")


def test_requests_do_not_grow_with_servers():
    counts = []
    for per_host in (1, 5):  # hosts stay below full: a full host is read alone (2 requests)
        cloud, _members = seeded(per_host)
        run_module(MaintenancePlanModule, {"max_parallel_hosts": 4}, cloud)
        counts.append(sum(cloud.calls.values()))
    # services, hypervisors, allocation candidates, aggregates, server groups, servers, projects (names), and
    # the cloud's latest migrations (no journal: the estimate learns the moves' durations from Nova)
    assert counts == [8, 8]


def test_max_parallel_hosts_and_unavailable_options():
    cloud = FakeCloud(hosts=["h%d" % i for i in range(6)])
    result = run_module(MaintenancePlanModule, {"max_parallel_hosts": 4, "max_unavailable": {"availability_zone": "100%",
                                                                                             "aggregate": ""}}, cloud)
    assert result["serial"] == [4, 2]
    result = run_module(MaintenancePlanModule, {"max_unavailable": {"availability_zone": "lots"}}, cloud)
    assert result["failed"] and result["msg"].startswith("max_unavailable.availability_zone: 'lots' is not a number")


def test_ramp_up_lets_the_first_batches_grow_and_says_so():
    cloud = FakeCloud(hosts=["h%d" % i for i in range(6)])
    for name in cloud.services:
        cloud.add_server(name)  # no host is empty
    options = {"max_parallel_hosts": 4, "max_unavailable": {"availability_zone": "100%", "aggregate": "100%"}}
    flat = run_module(MaintenancePlanModule, options, cloud, check_mode=True)
    ramped = run_module(MaintenancePlanModule, dict(options, ramp_up=True), cloud, check_mode=True)
    assert not ramped["failed"], ramped["msg"]
    assert flat["serial"] == [4, 2] and ramped["serial"] == [1, 2, 3]
    assert [batch["bound"] for batch in ramped["plan"]["batches"]][:2] == [
        "ramp_up: batch 1 takes at most 1 of max_parallel_hosts 4",
        "ramp_up: batch 2 takes at most 2 of max_parallel_hosts 4"]


def test_session_hosts_maintained_hosts_and_constraints_from_the_journal(tmp_path):
    cloud, members = seeded()
    path = str(tmp_path / "journal.sqlite")
    journal = Journal(path)
    journal.create_session(["compute1", "compute2", "compute4"], "default", None, {}, {}, session_id="s1")
    journal.set_host("s1", "compute4", maintained=True)
    plain = [sid for sid, server in cloud.servers.items() if server.compute_host == "compute1" and sid not in members]
    journal.set_constraint("instance", plain[0], "p1", {
        "instance_id": plain[0], "project_id": "p1", "group_id": "ig", "migration_type": "MIGRATE", "lead_time": 40})
    journal.set_constraint("instance", plain[1], "p2", {"instance_id": plain[1], "project_id": "p2", "group_id": "ig"})
    journal.set_constraint("instance_group", "ig", "p1", {"group_id": "ig", "project_id": "p1",
                                                          "max_impacted_members": 1, "recovery_time": 5})
    journal.close()
    result = run_module(MaintenancePlanModule, {"journal": path, "session_id": "s1",
                                                "max_unavailable": {"availability_zone": "100%"},
                                                "max_parallel_hosts": 2}, cloud)
    assert not result["failed"], result["msg"]
    assert result["hosts"] == ["compute1", "compute2"] and result["maintained"] == ["compute4"]
    # together, both aa members would need compute4, the one host without a member: two batches
    assert result["serial"] == [1, 1]
    first = result["plan"]["batches"][0]
    assert first["hosts"] == ["compute1"]
    kinds = {move["server_id"]: move["kind"] for wave in first["waves"] for move in wave}
    assert kinds[plain[0]] == "MIGRATE" and kinds[plain[1]] == "LIVE_MIGRATE"
    # the instance group (from the instance constraints) allows one impacted member per wave
    ig_waves = [index for index, wave in enumerate(first["waves"]) for m in wave if m["server_id"] in plain]
    assert sorted(ig_waves) == [0, 1]
    assert [m["to_host"] for wave in first["waves"] for m in wave if m["server_id"] in members] == ["compute4"]
    # lead time 40 s + two waves (two live migrations one at a time, then one cold) + 5 s recovery + host 300 s
    # + the batch's orchestration (7 s by default); the session's start and end once for the plan (9 s by default)
    assert first["estimated_seconds"] == 40 + 20 + 5 + 20 + 300 + 7
    assert result["estimated_seconds"] == sum(batch["estimated_seconds"] for batch in result["plan"]["batches"]) + 9
    assert result["plan"]["session_overhead_seconds"] == 9


def test_batch_mode_fails_naming_the_blockers(tmp_path):
    cloud, members = seeded()
    result = run_module(MaintenancePlanModule, {"batch": ["compute1", "compute2"],
                                                "max_unavailable": {"availability_zone": "100%"}}, cloud)
    assert result["failed"]
    assert result["msg"].startswith("batch: compute1, compute2 cannot be maintained together now: server aa-compute")
    assert "another member of group aa-name (aa)" in result["msg"]
    ok = run_module(MaintenancePlanModule, {"batch": ["compute1"]}, cloud)
    assert not ok["failed"] and ok["serial"] == [1]
    assert [m["to_host"] for m in ok["plan"]["batches"][0]["waves"][0] if m["server_id"] in members] == ["compute4"]


def test_unknown_host_and_session_are_named(tmp_path):
    cloud, _members = seeded()
    result = run_module(MaintenancePlanModule, {"hosts": ["nope"]}, cloud)
    assert result["failed"] and result["msg"] == (
        "hosts: no nova-compute service on nope; known hosts: compute1, compute2, compute3, compute4")
    result = run_module(MaintenancePlanModule, {"session_id": "zz", "journal": str(tmp_path / "none.sqlite")}, cloud)
    assert result["failed"] and result["msg"].startswith("session_id: no session zz")


def test_a_host_our_stopped_run_left_disabled_is_a_target_after_its_batch(tmp_path):
    # A run of session s1 killed in compute1's batch: compute1 is empty but still disabled by s1.
    cloud, members = seeded()
    for server in [s for s in cloud.servers.values() if s.compute_host == "compute1"]:
        cloud.move(server, "compute4")
    cloud.groups = [group("aa", "anti-affinity", members)]
    cloud.services["compute1"].status = "disabled"
    cloud.services["compute1"].disabled_reason = "fenix.maintenance: session s1"
    path = str(tmp_path / "journal.sqlite")
    Journal(path).create_session(sorted(cloud.services), "default", None, {}, {"hosts": []}, session_id="s1")
    result = run_module(MaintenancePlanModule, {"max_unavailable": {}, "journal": path, "session_id": "s1"}, cloud)
    assert result["blockers"] == [] and sum(result["serial"]) == 4, result
    assert result["skipped_hosts"] == []
    assert result["plan"]["batches"][0]["hosts"] == ["compute1"]  # empty: first
    targets = {move["to_host"] for batch in result["plan"]["batches"] for wave in batch["waves"] for move in wave}
    assert "compute1" in targets
    # Someone else's disable stays a disable: never a target.
    cloud.services["compute1"].disabled_reason = "RMA"
    other = run_module(MaintenancePlanModule, {"max_unavailable": {}, "hosts": ["compute2", "compute3", "compute4"]}, cloud)
    assert "compute1" not in {move["to_host"] for batch in other["plan"]["batches"] for wave in batch["waves"]
                              for move in wave}


def test_an_older_cloud_fails_first_naming_the_floor():
    cloud, _members = seeded()
    cloud.api_versions["compute"] = ("2.1", "2.52")
    result = run_module(MaintenancePlanModule, {"max_unavailable": {}}, cloud, check_mode=True)
    assert result["failed"] and result["msg"] == (
        "compute API: this collection needs microversion 2.53 (hypervisors with their resource provider;"
        " Nova of OpenStack Pike or later); the cloud offers 2.1 to 2.52")
    assert not cloud.calls, "nothing read before the check"
    assert cloud.version_reads == {"compute": 1, "placement": 1}


def test_every_host_skips_hosts_disabled_by_someone_else_and_lists_them(tmp_path):
    cloud, _members = seeded()
    cloud.services["compute2"].status, cloud.services["compute2"].disabled_reason = "disabled", "RMA 77"
    cloud.services["compute3"].status = "disabled"
    cloud.services["compute3"].disabled_reason = "fenix.maintenance: session other: maintenance"
    result = run_module(MaintenancePlanModule, {"max_unavailable": {}}, cloud, check_mode=True)
    assert not result["failed"], result["msg"]
    assert result["hosts"] == ["compute1", "compute4"]
    assert sorted(batch["hosts"] for batch in result["plan"]["batches"]) == [["compute1"], ["compute4"]]
    assert result["skipped_hosts"] == result["plan"]["skipped_hosts"] == [
        {"host": "compute2", "disabled_reason": "RMA 77",
         "reason": "disabled by someone else (disabled_reason: 'RMA 77'); left out of the maintenance"},
        {"host": "compute3", "disabled_reason": "fenix.maintenance: session other: maintenance",
         "reason": "disabled by session other (disabled_reason: 'fenix.maintenance: session other: maintenance');"
                   " left out of the maintenance"}]
    assert result["unplanned_hosts"] == []
    # A session created for every host skips them too, without failing.
    path = str(tmp_path / "journal.sqlite")
    Journal(path).create_session(sorted(cloud.services), "default", None, {}, {"hosts": []}, session_id="s1")
    of_session = run_module(MaintenancePlanModule, {"max_unavailable": {}, "journal": path, "session_id": "s1"}, cloud)
    assert of_session["hosts"] == ["compute1", "compute4"] and len(of_session["skipped_hosts"]) == 2
    # include_disabled plans them like the others.
    every = run_module(MaintenancePlanModule, {"max_unavailable": {}, "include_disabled": True}, cloud)
    assert every["hosts"] == ["compute1", "compute2", "compute3", "compute4"] and every["skipped_hosts"] == []


def test_a_named_host_disabled_by_someone_else_fails_naming_who_and_the_fix(tmp_path):
    cloud, _members = seeded()
    cloud.services["compute2"].status, cloud.services["compute2"].disabled_reason = "disabled", "RMA 77"
    named = run_module(MaintenancePlanModule, {"hosts": ["compute1", "compute2"]}, cloud, check_mode=True)
    assert named["failed"] and named["msg"] == (
        "hosts: compute2 is disabled by someone else (disabled_reason: 'RMA 77') (to give it back: ask whoever"
        " disabled it to enable it); nothing was changed. Leave such a host out of hosts, have it given back first,"
        " or set include_disabled: true (rolling_maintenance_include_disabled in the role) to maintain it anyway;"
        " it stays disabled afterwards")
    included = run_module(MaintenancePlanModule, {"hosts": ["compute1", "compute2"], "include_disabled": True,
                                                  "max_unavailable": {"availability_zone": "100%"}}, cloud)
    assert not included["failed"] and included["hosts"] == ["compute1", "compute2"]
    # The hosts a session was created with count as named, and so does a batch.
    path = str(tmp_path / "journal.sqlite")
    journal = Journal(path)
    journal.create_session(["compute1", "compute2"], "default", None, {}, {"hosts": ["compute1", "compute2"]},
                           session_id="s1")
    journal.create_session(sorted(cloud.services), "default", None, {}, {"hosts": []}, session_id="s2")
    journal.close()
    of_session = run_module(MaintenancePlanModule, {"journal": path, "session_id": "s1"}, cloud)
    assert of_session["failed"] and of_session["msg"].startswith("hosts: compute2 is disabled by someone else")
    batch = run_module(MaintenancePlanModule, {"journal": path, "session_id": "s2", "batch": ["compute2"]}, cloud)
    assert batch["failed"] and batch["msg"].startswith("hosts: compute2 is disabled by someone else")
    assert not cloud.calls["compute.disable_service"] and not cloud.calls["compute.live_migrate_server"]


def test_a_maintained_host_disabled_since_is_neither_an_error_nor_skipped(tmp_path):
    cloud, _members = seeded()
    path = str(tmp_path / "journal.sqlite")
    journal = Journal(path)
    journal.create_session(["compute1", "compute2"], "default", None, {}, {"hosts": ["compute1", "compute2"]},
                           session_id="s1")
    journal.set_host("s1", "compute2", maintained=True)
    journal.close()
    cloud.services["compute2"].status, cloud.services["compute2"].disabled_reason = "disabled", "RMA 77"
    result = run_module(MaintenancePlanModule, {"journal": path, "session_id": "s1"}, cloud)
    assert not result["failed"], result["msg"]
    assert result["hosts"] == ["compute1"] and result["skipped_hosts"] == []


def test_max_target_fill_is_passed_only_without_room_and_named_in_over_fill():
    cloud = FakeCloud(hosts=("h0", "h1", "h2"))
    cloud.add_server("h0", name="mover")
    cloud.add_server("h1", vcpus=7)
    cloud.add_server("h2", vcpus=6)
    # 1 more vCPU puts h1 at 8 of 8 and h2 at 7 of 8: both past 85 %; h2 is the less filled.
    result = run_module(MaintenancePlanModule, {"hosts": ["h0"]}, cloud)
    [move] = result["plan"]["batches"][0]["waves"][0]
    assert move["to_host"] == "h2" and result["blockers"] == []
    assert result["over_fill"] == {"max_fill": 0.85, "servers": 1, "vcpus": 1, "memory_mb": 256, "disk_gb": 1,
                                   "hosts": ["h2"]}
    assert result["plan"]["over_fill"] == result["over_fill"]
    result = run_module(MaintenancePlanModule, {"hosts": ["h0"], "max_target_fill": 1}, cloud)
    assert result["over_fill"] is None and result["plan"]["batches"][0]["waves"][0][0]["to_host"] == "h2"


def test_the_estimate_counts_migrations_into_each_target():
    cloud = FakeCloud(hosts=("h0", "h1", "t"))
    for host in ("h0", "h1"):
        for _index in range(2):
            cloud.add_server(host)
    cloud.add_server("t", vcpus=3)  # t is the fullest: every server goes to it only when it is the one target
    estimates = {"live_migration_seconds": 10, "host_seconds": 100, "migrations_per_host": 2,
                 "batch_overhead_seconds": 0, "session_overhead_seconds": 0}
    result = run_module(MaintenancePlanModule, {"hosts": ["h0", "h1"], "max_parallel_hosts": 2,
                                                "max_unavailable": {"availability_zone": "", "aggregate": ""},
                                                "estimates": dict(estimates, incoming_per_host=1)}, cloud)
    moves = [move for wave in result["plan"]["batches"][0]["waves"] for move in wave]
    assert result["serial"] == [2] and {move["to_host"] for move in moves} == {"t"}
    # Two out of each source at once (10 s), four into t one at a time (40 s).
    assert result["estimated_seconds"] == 4 * 10 + 100
    result = run_module(MaintenancePlanModule, {"hosts": ["h0", "h1"], "max_parallel_hosts": 2,
                                                "max_unavailable": {"availability_zone": "", "aggregate": ""},
                                                "estimates": dict(estimates, incoming_per_host=4)}, cloud)
    assert result["estimated_seconds"] == 10 + 100


def test_max_target_fill_and_incoming_per_host_out_of_range_are_named():
    cloud = FakeCloud(hosts=("h0", "h1"))
    for value in (0, 1.5):
        result = run_module(MaintenancePlanModule, {"max_target_fill": value}, cloud)
        assert result["failed"] and result["msg"] == (
            "max_target_fill: %r is not a fraction of a host's capacity; give a number above 0 and at most 1"
            " (0.85: no target above 85%% of any resource while the cloud has the room; 1: no limit)" % float(value))
    for key in ("migrations_per_host", "incoming_per_host"):
        result = run_module(MaintenancePlanModule, {"estimates": {key: 0}}, cloud)
        assert result["failed"] and result["msg"] == "estimates.%s: give at least 1" % key


def test_the_dry_run_explains_each_batch_and_writes_the_plan_page(tmp_path):
    cloud, _members = seeded()
    journal = str(tmp_path / "j.sqlite")
    result = run_module(MaintenancePlanModule, {"journal": journal, "max_parallel_hosts": 4, "page": True,
                                                "max_unavailable": {"availability_zone": "100%"},
                                                "estimates": {"host_seconds": 60}}, cloud, check_mode=True)
    assert not result["failed"], result.get("msg")
    lines = result["explanation"]
    batches = result["plan"]["batches"]
    assert lines[0] == "batches: %d (hosts per batch: %s)" % (len(batches), ", ".join(map(str, result["serial"])))
    first = batches[0]
    # The anti-affinity group of three members on four hosts keeps the batches narrow, and the line says so.
    assert "batch 1: %s (not wider: %s)" % (", ".join(first["hosts"]), first["bound"]) in lines
    assert "without another member of group aa-name (aa) on it" in first["bound"]
    assert "  estimate %g s: wave %g s + host work 60 s + orchestration 7 s" % (
        first["estimated_seconds"], first["estimate"]["waves"][0]) in lines
    move = first["waves"][0][0]
    assert move["moves_again"]  # compute4 is emptied first onto hosts maintained later
    move = next(move for batch in batches[1:] for move in batch["waves"][0] if not move["moves_again"])
    project = {"p1": "tenant-a (p1)", "p2": "tenant-b (p2)"}[move["project_id"]]
    server = label_of(move["name"], move["server_id"])
    assert "  wave 1: %s of %s, %s -> %s, live" % (server, project, move["from_host"], move["to_host"]) in lines
    # The page beside the journal, written in check mode (the dry run's output), and nothing else.
    reports = tmp_path / "reports"
    assert result["page_files"] == {"markdown": str(reports / "dry-run-plan.md"), "html": str(reports / "dry-run-plan.html")}
    assert result["changed"] is True and not os.path.exists(journal)
    markdown = (reports / "dry-run-plan.md").read_text()
    assert markdown.startswith("# Maintenance plan dry-run\n")
    assert "## Batch 1: %s\n\nNot wider: " % ", ".join(first["hosts"]) in markdown
    assert "| 1 | %s | %s | %s | %s | live |" % (server, project, move["from_host"], move["to_host"]) in markdown
    html = (reports / "dry-run-plan.html").read_text()
    assert '<section class="batch" data-batch="1">' in html and "<td>%s</td>" % move["to_host"] in html
    again = run_module(MaintenancePlanModule, {"journal": journal, "max_parallel_hosts": 4, "page": True,
                                               "max_unavailable": {"availability_zone": "100%"},
                                               "estimates": {"host_seconds": 60}}, cloud, check_mode=True)
    assert again["changed"] is False and again["explanation"] == lines


def test_a_plan_page_for_a_postgresql_journal_needs_its_directory():
    cloud, _members = seeded()
    result = run_module(MaintenancePlanModule, {"journal": "postgresql://fenix@db.example/fenix", "page": True}, cloud)
    assert result["failed"] and result["msg"] == ("page_dir: missing; a PostgreSQL journal has no directory to put the"
                                                  " plan page beside, so give page_dir")
    assert sum(cloud.calls.values()) == 0


def test_a_negative_duration_of_the_estimate_is_named():
    cloud = FakeCloud(hosts=("h0", "h1"))
    result = run_module(MaintenancePlanModule, {"estimates": {"batch_overhead_seconds": -5}}, cloud)
    assert result["failed"] and result["msg"] == "estimates.batch_overhead_seconds: -5; give 0 or more seconds"


def record_moves(journal, session_id, action, seconds_each):
    """Moves that ended well, each lasting the given seconds (the journal's clock set for each stamp)."""
    for index, seconds in enumerate(seconds_each):
        journal.clock = lambda index=index: "2026-12-01T10:%02d:00.000000Z" % index
        move_id = journal.start_move(session_id, "vm-%s-%d" % (action, index), "p1", action, "h0")
        journal.clock = lambda index=index, seconds=seconds: "2026-12-01T10:%02d:%06.3fZ" % (index, seconds)
        journal.finish_move(move_id, ok=True, to_host="h1")


def test_the_estimate_takes_the_durations_not_given_from_the_journals_earlier_moves(tmp_path):
    cloud = FakeCloud(hosts=("h0", "h1"))
    cloud.add_server("h0")
    location = str(tmp_path / "j.sqlite")
    journal = Journal(location)
    journal.create_session(["h0", "h1"], session_id="earlier")
    record_moves(journal, "earlier", "LIVE_MIGRATE", [7, 8, 9, 30, 8.5])
    record_moves(journal, "earlier", "MIGRATE", [4, 5, 6, 5])  # four: too few to go by
    estimates = {"host_seconds": 100, "batch_overhead_seconds": 0, "session_overhead_seconds": 0}
    args = {"journal": location, "hosts": ["h0"], "estimates": estimates}
    result = run_module(MaintenancePlanModule, args, cloud)
    # The median, which the one slow move does not pull up; the cold migrations keep the default.
    assert result["learned_estimates"] == {"live_migration_seconds": {"seconds": 8.5, "moves": 5}}
    assert result["estimated_seconds"] == 8.5 + 100
    assert result["explanation"][-2:] == [
        "estimate learnt: live_migration_seconds 8.5 s (the median of the last 5 moves in the journal)",
        "estimate with defaults (not given, and nothing in the journal or Nova to learn them from yet):"
        " cold_migration_seconds 20 s"]
    # A duration given is kept; no journal, nothing learned.
    given = run_module(MaintenancePlanModule, dict(args, estimates=dict(estimates, live_migration_seconds=10)), cloud)
    assert given["learned_estimates"] == {} and given["estimated_seconds"] == 10 + 100
    fresh = run_module(MaintenancePlanModule, dict(args, journal=str(tmp_path / "none.sqlite")), cloud)
    assert fresh["learned_estimates"] == {} and fresh["estimated_seconds"] == 10 + 100
    assert fresh["explanation"][-1] == (
        "estimate with defaults (not given, and nothing in the journal or Nova to learn them from yet):"
        " cold_migration_seconds 20 s, live_migration_seconds 10 s")


def test_before_the_journal_knows_a_kind_of_move_the_clouds_latest_migrations_tell(tmp_path):
    cloud = FakeCloud(hosts=("h0", "h1"))
    cloud.add_server("h0")
    for index, seconds in enumerate((6, 5, 7, 40, 6)):
        cloud.migration_records.append((None, SimpleNamespace(
            migration_type="live-migration", status="completed", created_at="2026-12-07T10:%02d:00.000000" % index,
            updated_at="2026-12-07T10:%02d:%02d.000000" % (index, seconds))))
    estimates = {"host_seconds": 100, "batch_overhead_seconds": 0, "session_overhead_seconds": 0}
    args = {"journal": str(tmp_path / "j.sqlite"), "hosts": ["h0"], "estimates": estimates}
    result = run_module(MaintenancePlanModule, args, cloud)
    assert result["learned_estimates"] == {"live_migration_seconds": {"seconds": 6, "migrations": 5}}
    assert result["estimated_seconds"] == 6 + 100
    assert result["explanation"][-2] == (
        "estimate learnt: live_migration_seconds 6 s (the median of the last 5 migrations Nova lists)")
    assert cloud.calls["compute.latest_migrations"] == 1
    # The plan of a batch does not read them: its estimate is nobody's reading.
    batch = run_module(MaintenancePlanModule, dict(args, batch=["h0"]), cloud)
    assert batch["learned_estimates"] == {} and cloud.calls["compute.latest_migrations"] == 1


def test_learned_cold_migrations_change_the_estimate_but_not_the_outage_an_instance_tolerates(tmp_path):
    cloud = FakeCloud(hosts=("h0", "h1"))
    cloud.add_server("h0", status="SHUTOFF")
    location = str(tmp_path / "j.sqlite")
    journal = Journal(location)
    journal.create_session(["h0", "h1"], session_id="earlier")
    record_moves(journal, "earlier", "MIGRATE", [4, 5, 6, 5, 5])
    args = {"journal": location, "hosts": ["h0"],
            "estimates": {"host_seconds": 100, "batch_overhead_seconds": 0, "session_overhead_seconds": 0}}
    result = run_module(MaintenancePlanModule, args, cloud)
    assert result["learned_estimates"] == {"cold_migration_seconds": {"seconds": 5, "moves": 5}}
    [move] = result["plan"]["batches"][0]["waves"][0]
    assert move["kind"] == "MIGRATE" and result["estimated_seconds"] == 5 + 100
    # 10 s of outage tolerated: more than the learned 5 s, less than the 20 s the rule weighs a cold migration at.
    running = cloud.add_server("h0")
    journal.set_constraint("instance", running, "p1", {"instance_id": running, "project_id": "p1",
                                                       "migration_type": "MIGRATE", "max_interruption_time": 10})
    blocked = run_module(MaintenancePlanModule, args, cloud)
    [blocker] = blocked["blockers"]
    assert blocker["server_id"] == running and "(20s planned)" in blocker["message"]


def finished_session(journal, session_id, batches, done_at):
    """A finished session, one host per batch: (host, disabled, move start, move end, plugin start, plugin end,
    enabled), in seconds from its creation at 11:00:00 (the journal's clock set for each write)."""
    def at(seconds):
        journal.clock = lambda: "2026-12-01T11:%02d:%06.3fZ" % divmod(seconds, 60)
    at(0)
    journal.create_session([batch[0] for batch in batches], session_id=session_id)
    for host, disabled, move_start, move_end, plugin_start, plugin_end, enabled in batches:
        at(disabled)
        journal.set_host(session_id, host, state="DISABLED", disabled_by_session=True)
        at(move_start)
        move_id = journal.start_move(session_id, "vm-" + host, "p1", "LIVE_MIGRATE", host)
        at(move_end)
        journal.finish_move(move_id, ok=True, to_host="elsewhere")
        journal.set_host(session_id, host, state="IN_MAINTENANCE")
        at(plugin_start)
        run_id = journal.start_action(session_id, "dummy", "host", host)
        at(plugin_end)
        journal.finish_action(run_id, True)
        at(enabled)
        journal.set_host(session_id, host, state="MAINTAINED", disabled_by_session=False, maintained=True)
    at(done_at)
    journal.set_session_state(session_id, "MAINTENANCE_DONE")


def test_the_estimate_learns_a_batchs_host_work_and_overhead_and_the_sessions_from_finished_sessions(tmp_path):
    cloud = FakeCloud(hosts=("h0", "h1"))
    cloud.add_server("h0")
    location = str(tmp_path / "j.sqlite")
    journal = Journal(location)
    # Batch 1: 5-24 s, 8 s moving, 7 s of plugin, so 4 s of the rest and 2 s to the next batch. Batch 2:
    # 26-43 s, 6 s moving, 6 s of plugin, 5 s of the rest. The session: 5 s before them and 3 s after.
    finished_session(journal, "earlier", [("h0", 5, 6, 14, 15, 22, 24), ("h1", 26, 27, 33, 34, 40, 43)], 46)
    journal.create_session(["h0"], session_id="running")  # not finished: it says nothing yet
    args = {"journal": location, "hosts": ["h0"], "estimates": {"live_migration_seconds": 10}}
    result = run_module(MaintenancePlanModule, args, cloud)
    assert not result["failed"], result.get("msg")
    assert result["learned_estimates"] == {
        "host_seconds": {"seconds": 6.5, "batches": 2},
        "batch_overhead_seconds": {"seconds": 5.5, "batches": 2},
        "session_overhead_seconds": {"seconds": 8, "sessions": 1},
    }
    assert result["estimated_seconds"] == 10 + 6.5 + 5.5 + 8
    assert result["plan"]["session_overhead_seconds"] == 8
    # An estimate given is kept and not said to be learned.
    given = run_module(MaintenancePlanModule, dict(args, estimates={"live_migration_seconds": 10, "host_seconds": 60}),
                       cloud)
    assert "host_seconds" not in given["learned_estimates"] and given["estimated_seconds"] == 10 + 60 + 5.5 + 8
    # The plan of one batch learns from the moves alone, and counts no session start and end.
    batch = run_module(MaintenancePlanModule, dict(args, batch=["h0"]), cloud)
    assert batch["learned_estimates"] == {} and batch["estimated_seconds"] == 10 + 300 + 7


def test_a_finished_sessions_figures_are_read_from_its_report_once_and_kept(tmp_path, monkeypatch):
    cloud = FakeCloud(hosts=("h0", "h1"))
    cloud.add_server("h0")
    location = str(tmp_path / "j.sqlite")
    journal = Journal(location)
    finished_session(journal, "earlier", [("h0", 5, 6, 14, 15, 22, 24), ("h1", 26, 27, 33, 34, 40, 43)], 46)
    report_before = build_report(journal, "earlier")
    args = {"journal": location, "hosts": ["h0"], "estimates": {"live_migration_seconds": 10}}
    reports = []

    def counted_report(*arguments):
        reports.append(arguments[1])
        return build_report(*arguments)
    monkeypatch.setattr(maintenance_plan, "build_report", counted_report)
    # A dry run reads the report and keeps nothing.
    dry = run_module(MaintenancePlanModule, args, cloud, check_mode=True)
    assert reports == ["earlier"] and journal.session_figures("earlier") is None
    assert dry["changed"], "check mode says the figures would be kept"
    first = run_module(MaintenancePlanModule, args, cloud)
    assert reports == ["earlier"] * 2 and journal.session_figures("earlier")["batches"] and first["changed"]
    second = run_module(MaintenancePlanModule, args, cloud)
    assert reports == ["earlier"] * 2, "the kept figures stand for the report"
    assert not second["changed"]
    assert dry["learned_estimates"] == first["learned_estimates"] == second["learned_estimates"] == {
        "host_seconds": {"seconds": 6.5, "batches": 2},
        "batch_overhead_seconds": {"seconds": 5.5, "batches": 2},
        "session_overhead_seconds": {"seconds": 8, "sessions": 1},
    }
    # The kept figures are not part of what the session did.
    assert build_report(journal, "earlier") == report_before
    # A session moved since its figures were kept is read anew.
    journal.clock = lambda: "2026-12-01T11:01:00.000Z"
    journal.set_session_state("earlier", "MAINTENANCE_DONE")
    run_module(MaintenancePlanModule, args, cloud)
    assert reports == ["earlier"] * 3
