"""playbooks/rolling_maintenance.yml end to end on the test cloud, with reference VNFMs answering.

A watcher samples Nova (servers of every project, compute services) several
times a second while the playbook runs; the rules are checked on those
samples, not on what the playbook reports about itself.
"""

from __future__ import annotations

import json
import re
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime

import openstack
import pytest
import yaml

from conftest import ADMIN_CLOUD, CLOUDCTL, ROOT, ansible_env
from nova_notifications import Listener, cloud_transport_url, moves_of, most_at_once
from vnfm_process import VnfmProcess

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import parse_time
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import SessionNotFound
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

PLAYBOOK = os.path.join(ROOT, "playbooks", "rolling_maintenance.yml")
ABORT = os.path.join(ROOT, "playbooks", "abort_maintenance.yml")
HOSTS = ["compute1", "compute2", "compute3", "compute4"]
MOVING = ("MIGRATING", "RESIZE", "VERIFY_RESIZE", "REVERT_RESIZE")


class Watcher(threading.Thread):
    """Samples where every server is and which compute services are disabled, until stopped."""

    def __init__(self, interval: float = 0.3) -> None:
        super().__init__(daemon=True)
        self.conn = openstack.connect(cloud=ADMIN_CLOUD)
        self.interval = interval
        self.samples = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            servers = {s.id: (s.compute_host, s.status, s.task_state)
                       for s in self.conn.compute.servers(details=True, all_projects=True)}
            disabled = sorted(s.host for s in self.conn.compute.services(binary="nova-compute") if s.status == "disabled")
            self.samples.append({"at": time.monotonic(), "servers": servers, "disabled": disabled})
            self.done.wait(self.interval)

    def stop(self) -> list:
        self.done.set()
        self.join(timeout=30)
        return self.samples


def impacted(server_state) -> bool:
    _host, status, task_state = server_state
    return status in MOVING or task_state is not None


def after_the_seed(samples: list, seeded: dict) -> list:
    """The samples from the first one where every seeded server is built: while the seed builds them, members in
    BUILD are the seed's work, not the maintenance's."""
    seeded_ids = {s["id"] for s in seeded["servers"]}
    for index, sample in enumerate(samples):
        if seeded_ids <= set(sample["servers"]) and all(sample["servers"][i][1] != "BUILD" for i in seeded_ids):
            return samples[index:]
    return []


def check_samples(samples: list, group: dict, max_impacted: int, max_disabled: int) -> None:
    assert len(samples) > 10, "the watcher took too few samples"
    for sample in samples:
        members = [sample["servers"][m] for m in group["members"] if m in sample["servers"]]
        hosts = [state[0] for state in members]
        assert len(hosts) == len(set(hosts)), "anti-affinity broken: %s" % hosts
        moving = [m for m in members if impacted(m)]
        assert len(moving) <= max_impacted, "%d members of %s affected at once" % (len(moving), group["id"])
        assert len(sample["disabled"]) <= max_disabled, "hosts disabled at once: %s" % sample["disabled"]


class Run:
    """One ansible-playbook run of the rolling maintenance, with its variables and inventory."""

    def __init__(self, workdir, session_id: str, webhook_urls: dict, **overrides) -> None:
        self.workdir = str(workdir)
        self.journal = os.path.join(self.workdir, "journal.sqlite")
        self.variables = {
            "rolling_maintenance_session_id": session_id,
            "rolling_maintenance_cloud": ADMIN_CLOUD,
            "rolling_maintenance_journal": self.journal,
            "rolling_maintenance_api_bind": "127.0.0.1:12370",
            "rolling_maintenance_api_run_dir": os.path.join(self.workdir, "api"),
            "rolling_maintenance_webhook": {"urls": webhook_urls, "retries": 2, "retry_delay": 0.5},
            "rolling_maintenance_reply_timeout": 10,  # the silent tenant-c costs this at every state
            "rolling_maintenance_renotify": 1,
            "rolling_maintenance_silent_policy": "LIVE_MIGRATE",
            "rolling_maintenance_max_parallel_hosts": 2,
            "rolling_maintenance_max_unavailable": {"availability_zone": "50%", "aggregate": "50%"},
            "rolling_maintenance_poll_interval": 1,
            "rolling_maintenance_actions": [
                {"plugin": "dummy", "type": "host", "metadata": {"seconds": 1}},
                {"plugin": "dummy", "type": "post"},
            ],
        }
        self.variables.update(overrides)
        self.vars_file = os.path.join(self.workdir, "maintenance.yml")
        with open(self.vars_file, "w") as handle:
            yaml.safe_dump(self.variables, handle)
        self.inventory = os.path.join(self.workdir, "inventory.ini")
        with open(self.inventory, "w") as handle:
            # The compute hosts run their upgrade plugins through a local connection here.
            handle.write("[compute]\n" + "".join("%s ansible_connection=local ansible_python_interpreter=%s\n"
                                                 % (host, sys.executable) for host in HOSTS))
        self.count = 0

    def start(self, *extra: str, playbook: str = PLAYBOOK) -> subprocess.Popen:
        self.count += 1
        self.log = open(os.path.join(self.workdir, "run-%d.log" % self.count), "w")
        return subprocess.Popen(["ansible-playbook", "-i", self.inventory, playbook, "-e", "@" + self.vars_file, *extra],
                                stdout=self.log, stderr=subprocess.STDOUT, env=ansible_env(), start_new_session=True)

    def run(self, *extra: str, playbook: str = PLAYBOOK, timeout: float = 900) -> tuple:
        process = self.start(*extra, playbook=playbook)
        code = process.wait(timeout=timeout)
        self.log.close()
        with open(self.log.name) as handle:
            output = handle.read()
        print(output[-6000:])
        return code, output

    def session(self):
        return Journal(self.journal).session(self.variables["rolling_maintenance_session_id"])


@pytest.fixture(scope="module")
def seed(test_cloud):
    with open(os.path.join(test_cloud, "seed.json")) as handle:
        return json.load(handle)


@pytest.fixture
def reseeded(test_cloud):
    """A freshly seeded cloud (every test here moves servers), all hosts enabled."""
    subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(test_cloud, "seed.json")) as handle:
        return json.load(handle)


@pytest.fixture
def admin_conn(test_cloud):
    return openstack.connect(cloud=ADMIN_CLOUD)


def start_vnfms(workdir, seed, policies: dict, extra: dict = None) -> dict:
    """One reference VNFM per tenant with the given policy; {project name: VnfmProcess}."""
    vnfms = {}
    for index, (name, policy) in enumerate(sorted(policies.items())):
        options = ["--policy", policy, *(extra or {}).get(name, [])]
        vnfms[name] = VnfmProcess(workdir, 12380 + index, *options, cloud="fenix-%s" % name)
    return vnfms


def webhook_urls(seed, vnfms: dict) -> dict:
    return {seed["projects"][name]: vnfm.url for name, vnfm in vnfms.items()}


def stop_all(vnfms: dict) -> None:
    for vnfm in vnfms.values():
        vnfm.stop()


def run_then_stop(run: "Run", vnfms: dict) -> tuple:
    """The run's (exit code, output); its VNFMs are stopped afterwards, whatever happened."""
    try:
        return run.run()
    finally:
        stop_all(vnfms)


def enabled_everywhere(conn) -> bool:
    return all(s.status == "enabled" for s in conn.compute.services(binary="nova-compute"))


def plugin_running(journal_path: str, session_id: str, action_type: str = None) -> bool:
    if not os.path.exists(journal_path):
        return False
    try:
        return any(r.state == "RUNNING" and action_type in (None, r.type) for r in Journal(journal_path).action_runs(session_id))
    except SessionNotFound:
        return False  # the journal is there (the API made it) before the session


BATCH_PLAN_TASK = "Plan this batch against the cloud as it is now"


def task_outcomes(output: str, task: str) -> list:
    """How each run of a task of the role ended, in order, as ansible-playbook printed it (ok, changed, skipping,
    failed, fatal): the first word after each of the task's headers."""
    header = re.compile(r"^TASK \[fenix\.maintenance\.rolling_maintenance : %s\] \**\n(\w+)" % re.escape(task), re.M)
    return header.findall(output)


def host_plugin_runs(journal_path: str, session_id: str) -> dict:
    runs = {}
    for run in Journal(journal_path).action_runs(session_id):
        if run.type == "host" and run.state == "DONE":
            runs[run.host] = runs.get(run.host, 0) + 1
    return runs


def test_the_demo_maintains_all_hosts_with_three_kinds_of_projects(tmp_path, test_cloud, admin_conn, playbook):
    """The README's first command, watched: scripts/demo seeds the cloud, starts the API as a standing
    service and two VNFMs (tenant-a in Fenix's vnf workflow with its groups' constraints, tenant-b
    migrate in the default form; tenant-c has none), POSTs a vnf session and maintains every compute
    host. Nova is watched twice: sampled several times a second, and through its versioned
    notifications (exchange nova), which say when each move began and ended. The docs test does
    not run the demo a second time (run-by this file)."""
    demo = tmp_path / "demo"
    watcher = Watcher()
    watcher.start()
    nova = Listener(cloud_transport_url(), "nova", "versioned_notifications")
    try:
        process = subprocess.run(["scripts/demo"], cwd=ROOT, env=dict(ansible_env(), FENIX_DEMO_DIR=str(demo)),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900, check=False)
    finally:
        samples = watcher.stop()
        notifications = nova.drain()
        nova.close()
    output = process.stdout
    print(output[-6000:])
    assert process.returncode == 0, output[-3000:]
    with open(os.path.join(test_cloud, "seed.json")) as handle:
        seeded = json.load(handle)  # the demo seeds the cloud itself
    group = {"id": seeded["server_groups"]["aa-group"]["id"],
             "members": [s["id"] for s in seeded["servers"] if s["group"] == "aa-group"]}
    journal_path = str(demo / "journal.sqlite")
    journal = Journal(journal_path)
    sessions = journal.sessions()
    assert len(sessions) == 1, [s.session_id for s in sessions]
    session_id = sessions[0].session_id
    assert sessions[0].state == "MAINTENANCE_DONE"
    # Every host maintained exactly once, and all enabled at the end.
    assert host_plugin_runs(journal_path, session_id) == {host: 1 for host in HOSTS}
    assert all(record.maintained for record in journal.hosts(session_id))
    assert enabled_everywhere(admin_conn)
    # Every server kept its status (the seeded stopped one stays stopped).
    now = {s.id: s for s in admin_conn.compute.servers(details=True, all_projects=True)}
    assert sorted(now) == sorted(s["id"] for s in seeded["servers"])
    for server in seeded["servers"]:
        assert now[server["id"]].status == server["status"], server
    # The projects' choices were applied: tenant-a live, tenant-b cold, tenant-c by the operator's policy.
    assert sessions[0].workflow == "vnf"
    done = [record for record in journal.instances(session_id) if record.action_done]
    actions = {record.project_id: {r.action for r in done if r.project_id == record.project_id} for record in done}
    assert actions[seeded["projects"]["tenant-a"]] == {"LIVE_MIGRATE"}
    assert actions[seeded["projects"]["tenant-b"]] == {"MIGRATE"}
    assert actions[seeded["projects"]["tenant-c"]] <= {"LIVE_MIGRATE", "MIGRATE"}
    events = journal.events(session_id)
    policy_replies = [e for e in events if e["kind"] == "project.reply" and e["details"].get("decided_by") == "policy"]
    assert {e["project_id"] for e in policy_replies} == {seeded["projects"]["tenant-c"]}
    # tenant-c has no VNFM and no webhook: unreachable, never a failure.
    unreachable = [e for e in events if e["kind"] == "project.unreachable"]
    assert {e["project_id"] for e in unreachable} == {seeded["projects"]["tenant-c"]}, unreachable
    check_tenant_constraints(journal, session_id, seeded, notifications)
    check_asked_ahead(journal.events(session_id))
    # The rules held at every sample taken after the demo's seed: anti-affinity, max_impacted_members 1,
    # at most 1 host down. (Three anti-affinity members on four hosts leave room for one host down at a
    # time: the plan's batches are single hosts here, which the samples confirm.)
    check_samples(after_the_seed(samples, seeded), group, max_impacted=1, max_disabled=1)
    assert any(sample["disabled"] for sample in samples), "the watcher never saw a host disabled"
    # The summary is printed at the end of the play, and the demo says where its journal is.
    assert "hosts_maintained" in output and "4 of 4" in output
    assert "demo: journal %s" % journal_path in output
    check_first_estimate_learns_from_nova(playbook, admin_conn, journal)


def check_first_estimate_learns_from_nova(playbook, admin_conn, journal) -> None:
    """A plan without a journal learns the moves' durations from Nova's list of the cloud's latest migrations -
    here the demo's: the same median as the migrations read here, and not longer than the journal's own moves
    (which count the run's polling; Nova stamps to the second)."""
    [plan] = playbook.run({"fenix.maintenance.maintenance_plan": {"journal": os.path.join(playbook.workdir, "none")}})
    assert not plan.get("failed"), plan.get("msg")
    ended_well = {"live_migration_seconds": ("live-migration", "completed"),
                  "cold_migration_seconds": ("migration", "confirmed")}
    records = admin_conn.compute.get("/os-migrations?limit=100", microversion="2.59").json()["migrations"]
    for key, done in ended_well.items():
        durations = [(datetime.fromisoformat(r["updated_at"]) - datetime.fromisoformat(r["created_at"])).total_seconds()
                     for r in records if (r["migration_type"], r["status"]) == done]
        if len(durations) < 5:
            assert key not in plan["learned_estimates"], (key, durations)
            continue
        learned = plan["learned_estimates"][key]
        assert learned == {"seconds": round(statistics.median(durations), 1), "migrations": len(durations)}
        kind = "LIVE_MIGRATE" if key == "live_migration_seconds" else "MIGRATE"
        in_the_journal = statistics.median(journal.recent_move_seconds(kind, 100))
        print("%s: %s s from Nova's %d, %.1f s in the demo's journal" % (
            key, learned["seconds"], learned["migrations"], in_the_journal))
        assert learned["seconds"] <= in_the_journal + 1.0, (key, learned, in_the_journal)
    assert "live_migration_seconds" in plan["learned_estimates"], "the demo made fewer than 5 live migrations"
    assert any("migrations Nova lists" in line for line in plan["explanation"]), plan["explanation"][-2:]


def check_tenant_constraints(journal, session_id: str, seeded: dict, notifications: list) -> None:
    """tenant-a's constraints, held as Nova saw the moves: per group at most max_impacted_members moving at
    once and recovery_time between one member's end and the next one's start; per instance, its move not
    before lead_time after its project's notice. Prints the figures."""
    tenant_a = seeded["projects"]["tenant-a"]
    moves = moves_of(notifications)
    assert moves, "no move seen in Nova's versioned notifications"
    assert all(move.ended for server_moves in moves.values() for move in server_moves), "a move never ended"
    groups = {body["group_id"]: body for body in journal.constraints("instance_group", tenant_a)}
    rules = {body["instance_id"]: body for body in journal.constraints("instance", tenant_a)}
    members = {group_id: [iid for iid, body in rules.items() if body["group_id"] == group_id] for group_id in groups}
    nova_group = seeded["server_groups"]["aa-group"]["id"]
    members[nova_group] = sorted(set(members.get(nova_group, [])) | {
        s["id"] for s in seeded["servers"] if s["group"] == "aa-group"})
    assert len(groups) == 2 and all(len(ids) >= 3 for ids in members.values()), (groups, members)
    overlap = set(members[nova_group]) & set().union(*(ids for gid, ids in members.items() if gid != nova_group))
    assert len(overlap) == 1, "the VNF group overlaps the Nova group in one member"
    for group_id, group in groups.items():
        group_moves = sorted((move for iid in members[group_id] for move in moves.get(iid, [])),
                             key=lambda move: move.started)
        assert len(group_moves) >= 3, (group_id, group_moves)
        assert most_at_once(group_moves) <= group["max_impacted_members"], (group["group_name"], group_moves)
        # A member moved again (its target maintained later) is not the next member: its own gap is not counted.
        gaps = [(after.started - before.ended).total_seconds() for before, after in zip(group_moves, group_moves[1:])
                if after.server_id != before.server_id]
        print("group %s: %d moves, gaps between members %s s (recovery_time %s)" % (
            group["group_name"], len(group_moves), [round(gap, 1) for gap in gaps], group["recovery_time"]))
        assert min(gaps) >= group["recovery_time"], (group["group_name"], gaps)
    notices = sorted(parse_time(e["at"]) for e in journal.events(session_id)
                     if e["kind"] == "project.notified" and e["project_id"] == tenant_a and not e["details"].get("reminder")
                     and e["details"]["state"] in ("PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE"))
    leads = []
    for instance_id, rule in rules.items():
        for move in moves.get(instance_id, []):
            notice = max(at for at in notices if at <= move.started)
            leads.append((move.started - notice).total_seconds())
            assert leads[-1] >= rule["lead_time"], (instance_id, leads[-1], rule["lead_time"])
    print("tenant-a: %d moves, notice to move %.1f-%.1f s (lead_time %s)" % (
        len(leads), min(leads), max(leads), sorted({rule["lead_time"] for rule in rules.values()})))


def check_asked_ahead(events: list) -> None:
    """rolling_maintenance_ask_ahead: every batch after the first moved servers whose projects were asked while the
    batch before was upgraded, before its own hosts were disabled; the first batch asks once its host is disabled."""
    disabled = {}
    for event in events:
        if event["kind"].startswith("host.") and event["details"].get("disabled_by_session"):
            disabled.setdefault(event["host"], parse_time(event["at"]))
    asks = [(parse_time(e["at"]), e["project_id"]) for e in events
            if e["kind"] == "project.notified" and not e["details"].get("reminder")
            and e["details"]["state"] in ("PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE")]
    order = sorted(disabled, key=disabled.get)
    ahead, first_move = {}, None
    for event in events:
        if event["kind"] == "instance.move_started" and event["host"] in disabled:
            started = parse_time(event["at"])
            first_move = first_move or started
            asked = max(at for at, project in asks if project == event["project_id"] and at <= started)
            ahead.setdefault(event["host"], set()).add(asked < disabled[event["host"]])
    print("asked ahead, by host in batch order: %s" % [(host, sorted(ahead.get(host, ()))) for host in order])
    first_batch = [host for host in order if disabled[host] <= first_move]
    assert all(ahead.get(host, {False}) == {False} for host in first_batch), "the first batch asks once disabled"
    moved_later = [host for host in order if host not in first_batch and host in ahead]
    assert moved_later and all(ahead[host] == {True} for host in moved_later), ahead


def test_nack_fails_cleanly(tmp_path, reseeded, admin_conn):
    vnfms = start_vnfms(tmp_path, reseeded, {"tenant-a": "nack", "tenant-b": "migrate", "tenant-c": "migrate"},
                        extra={"tenant-a": ["--state-policy", "MAINTENANCE=live_migrate"]})
    run = Run(tmp_path, "e2e-b", webhook_urls(reseeded, vnfms))
    code, _output = run_then_stop(run, vnfms)
    assert code != 0
    session = run.session()
    assert session.state == "MAINTENANCE_FAILED" and "NACK" in session.reason
    assert enabled_everywhere(admin_conn)
    assert Journal(run.journal).hosts_disabled_by_session("e2e-b") == []
    now = {s.id: s.compute_host for s in admin_conn.compute.servers(details=True, all_projects=True)}
    assert now == {s["id"]: s["host"] for s in reseeded["servers"]}, "a server moved although a project said NACK"


def test_check_mode_changes_nothing_and_prints_the_plan(tmp_path, seed, admin_conn):
    before = {s.id: s.compute_host for s in admin_conn.compute.servers(details=True, all_projects=True)}
    run = Run(tmp_path, "e2e-e", {})
    code, output = run.run("--check")
    assert code == 0, output[-3000:]
    assert "batches" in output and "serial" in output
    # The dry run explains itself: each batch with the rule that bounds it, and the plan page beside the journal.
    assert re.search(r'"batch 1: compute\d \(not wider: ', output), output[-3000:]
    page = os.path.join(os.path.dirname(run.journal), "reports", "dry-run-plan.html")
    with open(page) as handle:
        assert '<section class="batch" data-batch="1">' in handle.read()
    assert page in output
    assert not os.path.exists(run.journal)
    assert {s.id: s.compute_host for s in admin_conn.compute.servers(details=True, all_projects=True)} == before
    assert enabled_everywhere(admin_conn)


def test_capacity_short_asks_to_scale_in_then_goes_on(tmp_path, test_cloud, admin_conn):
    """Seven servers on each host: the three others cannot take compute1's, so the session asks the projects to
    scale in, one deletes four servers, and compute1's maintenance goes on (one host: the other hosts would
    only repeat what the demo shows)."""
    env = dict(os.environ, FENIX_SEED_SERVERS_PER_HOST="7")
    subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL, env=env)
    try:
        with open(os.path.join(test_cloud, "seed.json")) as handle:
            full = json.load(handle)
        vnfms = start_vnfms(tmp_path, full, {"tenant-a": "live_migrate", "tenant-b": "live_migrate",
                                             "tenant-c": "live_migrate"},
                            extra={"tenant-c": ["--scale-in-delete", "4"]})
        run = Run(tmp_path, "e2e-d", webhook_urls(full, vnfms), rolling_maintenance_actions=[],
                  rolling_maintenance_hosts=["compute1"])
        code, output = run_then_stop(run, vnfms)
        assert code == 0, output[-3000:]
        journal = Journal(run.journal)
        states = [e["details"]["to"] for e in journal.events("e2e-d") if e["kind"] == "session.state"]
        assert "SCALE_IN" in states and states[-1] == "MAINTENANCE_DONE"
        # The batch moved as the plan made after the scale-in said: the role did not plan it again.
        assert task_outcomes(output, BATCH_PLAN_TASK) == ["skipping"], output[-3000:]
        assert [r.host for r in journal.hosts("e2e-d") if r.maintained] == ["compute1"]
        # The plan made again after the scale-in replaced the first one's page.
        with open(os.path.join(os.path.dirname(run.journal), "reports", "e2e-d-plan.md")) as handle:
            assert "## Batch 1: compute1\n" in handle.read()
        remaining = list(admin_conn.compute.servers(details=True, all_projects=True))
        assert len(remaining) == len(full["servers"]) - 4
        assert "compute1" not in {server.compute_host for server in remaining}
        assert enabled_everywhere(admin_conn)
    finally:
        subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL)


CONTROLLERS = ["ctl1", "ctl2"]


def add_controller_group(run: Run, hosts: list) -> None:
    """The operator's controller hosts beside the compute hosts: a group `controller`, local connections here."""
    with open(run.inventory, "a") as handle:
        handle.write("[controller]\n" + "".join("%s ansible_connection=local ansible_python_interpreter=%s\n"
                                                % (host, sys.executable) for host in hosts))


def controller_runs(journal_path: str, session_id: str) -> list:
    return [run for run in Journal(journal_path).action_runs(session_id) if run.type == "controller"]


def test_controller_plugins_run_once_per_controller_host_first_and_not_again_when_resumed(tmp_path, reseeded, admin_conn):
    """One compute host, and a controller action on the two hosts of the group `controller`: each controller host ran
    it once, one after the other, before the compute host was disabled. Killed during the compute host's plugin and
    resumed, then run again once done, the session does not run them again."""
    vnfms = start_vnfms(tmp_path, reseeded, {"tenant-a": "live_migrate", "tenant-b": "migrate", "tenant-c": "migrate"})
    actions = [{"plugin": "dummy", "type": "controller", "metadata": {"seconds": 1}},
               {"plugin": "dummy", "type": "host", "metadata": {"seconds": 4}}]
    run = Run(tmp_path, "e2e-ctl", webhook_urls(reseeded, vnfms), rolling_maintenance_actions=actions,
              rolling_maintenance_hosts=["compute1"])
    add_controller_group(run, CONTROLLERS)
    try:
        process = run.start()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not plugin_running(run.journal, "e2e-ctl", "host"):
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        killed = controller_runs(run.journal, "e2e-ctl")
        code, output = run.run()
        again, output_again = run.run()
    finally:
        stop_all(vnfms)
        if run.session().state != "MAINTENANCE_DONE":
            run.run(playbook=ABORT)  # leave no host disabled for the tests after this one
    assert [(r.plugin, r.host, r.state) for r in killed] == [("dummy", "ctl1", "DONE"), ("dummy", "ctl2", "DONE")]
    assert killed[0].ended_at <= killed[1].started_at, "the controller hosts ran at the same time"
    disabled_at = [event["at"] for event in Journal(run.journal).events("e2e-ctl")
                   if event["kind"] == "host.state" and event["details"].get("state") == "DISABLED"]
    assert disabled_at and killed[1].ended_at <= disabled_at[0], "a compute host was disabled before the controllers"
    assert code == 0, output[-3000:]
    assert again == 0 and "is MAINTENANCE_DONE already" in output_again, output_again[-3000:]
    # Controller plugins may have changed the cloud since the plan: the first batch is planned again.
    assert task_outcomes(output, BATCH_PLAN_TASK) == ["ok"], output[-3000:]
    assert run.session().state == "MAINTENANCE_DONE"
    # The resumed run and the run of the finished session skipped them: the same two runs, nothing more.
    assert [(r.run_id, r.state) for r in controller_runs(run.journal, "e2e-ctl")] == [(r.run_id, r.state) for r in killed]
    assert host_plugin_runs(run.journal, "e2e-ctl") == {"compute1": 1}
    assert [r.host for r in Journal(run.journal).hosts("e2e-ctl") if r.maintained] == ["compute1"]
    assert enabled_everywhere(admin_conn)


def test_controller_actions_without_controller_hosts_fail_before_anything_changes(tmp_path, seed, admin_conn):
    before = {s.id: s.compute_host for s in admin_conn.compute.servers(details=True, all_projects=True)}
    actions = [{"plugin": "dummy", "type": "controller"}, {"plugin": "dummy", "type": "host"}]
    run = Run(tmp_path, "e2e-ctl-bad", {}, rolling_maintenance_actions=actions, rolling_maintenance_hosts=["compute1"])
    said = ("rolling_maintenance_controller_group: the session has controller upgrade plugins (dummy) but the inventory"
            " has no host in group 'controller'")
    code, output = run.run()  # the inventory has no group controller
    assert code != 0 and said in output, output[-3000:]
    add_controller_group(run, [])  # nor does an empty one do
    code, output = run.run()
    assert code != 0 and said in output, output[-3000:]
    # Failed at the start: no session, no API, no host disabled, no server moved.
    assert not os.path.exists(run.journal) and not os.path.exists(run.variables["rolling_maintenance_api_run_dir"])
    assert enabled_everywhere(admin_conn)
    assert {s.id: s.compute_host for s in admin_conn.compute.servers(details=True, all_projects=True)} == before
