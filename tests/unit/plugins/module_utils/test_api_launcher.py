"""The API's launchers: ansible-runner in its own process (a stand-in binary here), the Controller's launch API
(a fake HTTP pool), and the service that starts, continues and stops a session's run through them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

falcon = pytest.importorskip("falcon")
from falcon import testing  # noqa: E402

from ansible_collections.fenix.maintenance.plugins.module_utils.api.app import ServiceConfig, build  # noqa: E402
from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import (  # noqa: E402
    ControllerLauncher,
    Launcher,
    LaunchError,
    LaunchSettings,
    RunInfo,
    RunnerLauncher,
    default_runs_dir,
    make_launcher,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import (  # noqa: E402
    settle_migrations_from,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal  # noqa: E402
from ansible_collections.fenix.maintenance.plugins.module_utils.processes import process_stat  # noqa: E402

# A stand-in for ansible-runner: "run DIR -p PLAYBOOK --ident IDENT --inventory INV" writes the
# command line where the test reads it, marks the run running as ansible-runner does, waits for
# a SIGTERM (or FAKE_RUNNER_SECONDS), then writes the status ansible-runner writes for it.
FAKE_RUNNER = """#!%s
import json, os, signal, sys, time
directory, ident = sys.argv[2], sys.argv[sys.argv.index("--ident") + 1]
artifacts = os.path.join(directory, "artifacts", ident)
os.makedirs(os.path.join(artifacts, "job_events"), exist_ok=True)
with open(os.path.join(directory, "argv.json"), "w") as handle:
    json.dump(sys.argv[1:], handle)
def status(text):
    with open(os.path.join(artifacts, "status"), "w") as handle:
        handle.write(text)
def cancel(signum, frame):
    status("canceled")
    sys.exit(254)
signal.signal(signal.SIGTERM, cancel)
status("running")
with open(os.path.join(artifacts, "job_events", "7-abc.json"), "w") as handle:
    json.dump({"event": "playbook_on_task_start", "event_data": {"task": "Disable the hosts of this batch"}}, handle)
with open(os.path.join(artifacts, "job_events", "12-def.json"), "w") as handle:
    json.dump({"event": "runner_on_ok", "event_data": {"task": "Move the servers off the batch"}}, handle)
# An event ansible-runner is still completing: named by its uuid alone, no counter.
with open(os.path.join(artifacts, "job_events", "02fc0000-9a1b-4c2d-8e3f-5a6b7c8d9e0f-partial.json"), "w") as handle:
    json.dump({"event": "runner_on_start", "event_data": {"task": "Enable the host again"}}, handle)
deadline = time.time() + float(os.environ.get("FAKE_RUNNER_SECONDS", "30"))
while time.time() < deadline:
    time.sleep(0.05)
status("successful")
""" % sys.executable


@pytest.fixture
def runner(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    binary = bindir / "ansible-runner"
    binary.write_text(FAKE_RUNNER)
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    launcher = RunnerLauncher(LaunchSettings(), str(tmp_path / "runs"), python=str(bindir / "python"))
    yield launcher
    for session in os.listdir(launcher.runs_dir) if os.path.isdir(launcher.runs_dir) else []:
        launcher.stop(session, timeout=5)


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


VARIABLES = {"rolling_maintenance_session_id": "s1", "rolling_maintenance_cloud": "admin",
             "rolling_maintenance_journal": "/j.sqlite"}


def test_settings_round_trip_through_the_environment_without_losing_anything():
    settings = LaunchSettings(kind="controller", runs_dir="/r", controller_url="https://awx", controller_job_template="7",
                              controller_token="t0ken", controller_validate_certs=False)
    env = settings.environment()
    assert env["FENIX_API_LAUNCHER"] == "controller" and env["FENIX_API_CONTROLLER_VALIDATE_CERTS"] == "false"
    assert LaunchSettings.from_environment(env) == settings
    assert LaunchSettings.from_environment({}) == LaunchSettings(kind="runner")


@pytest.mark.parametrize("settings, message", [
    (LaunchSettings(kind="jenkins"), "launcher.type (FENIX_API_LAUNCHER): 'jenkins' is not one of runner, controller, none"),
    (LaunchSettings(inventory="/nowhere/inv.yml"), "launcher.inventory (FENIX_API_RUN_INVENTORY): /nowhere/inv.yml does not exist"),
    (LaunchSettings(run_vars="/nowhere/vars.yml"), "launcher.run_vars (FENIX_API_RUN_VARS): /nowhere/vars.yml does not exist"),
    (LaunchSettings(kind="controller", controller_url="https://awx"),
     "launcher.controller_job_template (FENIX_API_CONTROLLER_JOB_TEMPLATE), launcher.controller_token"
     " (FENIX_API_CONTROLLER_TOKEN): missing"),
])
def test_bad_settings_are_refused_naming_the_option_and_its_variable(settings, message):
    with pytest.raises(ValueError) as caught:
        settings.check()
    assert message in str(caught.value)


def test_runs_live_beside_a_sqlite_journal_and_under_the_state_dir_for_postgresql():
    assert default_runs_dir("/var/lib/fenix/journal.sqlite") == "/var/lib/fenix/runs"
    assert default_runs_dir("postgresql://fenix@db/fenix").endswith(".local/state/fenix.maintenance/runs")
    records_only = make_launcher(LaunchSettings(kind="none"), "/j.sqlite")
    assert records_only.kind == "none" and not isinstance(records_only, (RunnerLauncher, ControllerLauncher))
    assert records_only.start("s1", VARIABLES) is None and records_only.find("s1") is None


def test_runner_starts_the_playbook_for_the_session_in_its_own_directory(runner):
    run = runner.start("s1", VARIABLES)
    directory = os.path.join(runner.runs_dir, "s1")
    assert wait_for(lambda: os.path.exists(os.path.join(directory, "argv.json")))
    with open(os.path.join(directory, "argv.json")) as handle:
        argv = json.load(handle)
    inventory = os.path.join(directory, "inventory", "fenix.compute_hosts.yml")
    assert argv == ["run", directory, "-p", "fenix.maintenance.rolling_maintenance", "--ident", "s1-1",
                    "--inventory", inventory]
    with open(os.path.join(directory, "env", "extravars")) as handle:
        assert json.load(handle) == VARIABLES
    with open(inventory) as handle:  # no inventory given: the compute hosts of the session's cloud, from Nova
        assert json.load(handle) == {"plugin": "fenix.maintenance.compute_hosts", "cloud": "admin"}
    assert run.launcher == "runner" and run.ident == "s1-1" and run.alive and os.getpgid(run.pid) == run.pid
    assert wait_for(lambda: runner.find("s1").status == "running")
    assert runner.find("s1").last_task == "Move the servers off the batch"  # the newest event, by its counter


def test_a_second_run_of_a_session_is_refused_while_the_first_runs(runner):
    first = runner.start("s1", VARIABLES)
    with pytest.raises(LaunchError) as caught:
        runner.start("s1", VARIABLES)
    assert caught.value.code == 409
    assert "session s1: a run is going already (runner s1-1 since %s" % first.started in str(caught.value)
    assert "DELETE the session to stop it" in str(caught.value)


def test_stop_cancels_the_run_and_a_new_start_is_the_next_attempt(runner):
    runner.start("s1", VARIABLES)
    assert wait_for(lambda: runner.find("s1").status == "running")
    stopped = runner.stop("s1", timeout=10)
    assert not stopped.alive and stopped.status == "canceled"
    again = runner.start("s1", VARIABLES)
    assert again.ident == "s1-2" and again.alive


def test_a_run_is_found_again_by_a_new_launcher_and_ends_with_its_status(runner, monkeypatch):
    monkeypatch.setenv("FAKE_RUNNER_SECONDS", "0.5")
    runner.start("s1", VARIABLES)
    restarted = RunnerLauncher(LaunchSettings(), runner.runs_dir, python=os.path.join(
        os.path.dirname(runner.binary), "python"))  # a restarted service knows only the directory
    assert wait_for(lambda: not restarted.find("s1").alive)  # ansible-runner writes the status, then exits
    assert restarted.find("s1").status == "successful"
    assert restarted.find("unknown") is None


def test_a_run_killed_without_a_word_is_lost_not_running(runner):
    run = runner.start("s1", VARIABLES)
    assert wait_for(lambda: runner.find("s1").status == "running")
    os.killpg(run.pid, 9)
    assert wait_for(lambda: not runner.find("s1").alive)
    assert runner.find("s1").status == "lost"


def test_a_run_is_known_by_its_pid_and_start_time_whatever_its_command_line_says(runner):
    # Right after Popen returns the kernel may not have filled in the new program's command line yet: a run
    # known by its command line alone looked lost in that moment on a busy machine.
    os.makedirs(runner.session_dir("s1"))
    sleeper = subprocess.Popen(["sleep", "30"])  # its command line does not name the session's directory
    try:
        record = {"launcher": "runner", "ident": "s1-1", "pid": sleeper.pid, "started": "2026-12-07T00:00:00Z",
                  "pid_started": process_stat(sleeper.pid).started}
        runner.write_record("s1", record)
        found = runner.find("s1")
        assert found.alive and found.status == "starting"
        runner.write_record("s1", dict(record, pid_started=record["pid_started"] - 1))  # the pid, reused
        assert not runner.find("s1").alive and runner.find("s1").status == "lost"
        runner.write_record("s1", {key: value for key, value in record.items() if key != "pid_started"})
        assert not runner.find("s1").alive  # a record written before pid_started: known by its command line
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_started_run_records_its_pid_with_its_start_time(runner):
    run = runner.start("s1", VARIABLES)
    assert runner.record("s1")["pid_started"] == process_stat(run.pid).started
    assert run.alive


def test_runner_needs_ansible_runner_next_to_the_python(tmp_path):
    launcher = RunnerLauncher(LaunchSettings(), str(tmp_path / "runs"), python=str(tmp_path / "python"))
    with pytest.raises(LaunchError, match="needs ansible-runner next to %s" % tmp_path):
        launcher.start("s1", VARIABLES)


class FakeController:
    """urllib3's PoolManager.request for the Controller's template, survey, launch, job and cancel endpoints."""

    def __init__(self, ignored=None, survey=("session_id", "silent_policy"), prompts=False):
        self.requests = []
        self.status = "pending"
        self.ignored = ignored or {}
        self.survey, self.prompts = survey, prompts

    def request(self, method, url, body=None, headers=None, timeout=None, retries=None):
        self.requests.append((method, url, json.loads(body) if body else None, headers["Authorization"]))
        if url.endswith("/job_templates/7/"):
            answer = {"id": 7, "ask_variables_on_launch": self.prompts, "survey_enabled": bool(self.survey)}
            return SimpleNamespace(status=200, data=json.dumps(answer).encode())
        if url.endswith("/survey_spec/"):
            answer = {"spec": [{"variable": name} for name in self.survey]}
            return SimpleNamespace(status=200, data=json.dumps(answer).encode())
        if url.endswith("/launch/"):
            answer = {"job": 42, "id": 42, "type": "job", "ignored_fields": self.ignored}
            return SimpleNamespace(status=201, data=json.dumps(answer).encode())
        if url.endswith("/cancel/"):
            self.status = "canceled"
            return SimpleNamespace(status=202, data=b"")
        return SimpleNamespace(status=200, data=json.dumps({"id": 42, "status": self.status}).encode())


def controller(tmp_path, http):
    settings = LaunchSettings(kind="controller", controller_url="https://awx.example.com/", controller_job_template="7",
                              controller_token="t0ken")
    return ControllerLauncher(settings, str(tmp_path / "runs"), http=http)


def test_controller_launches_the_job_template_with_the_session_id(tmp_path):
    http = FakeController()
    run = controller(tmp_path, http).start("s1", VARIABLES)
    # The shipped AWX configuration's resume template asks the session id in its survey as session_id.
    launches = [r for r in http.requests if r[0] == "POST"]
    assert launches == [("POST", "https://awx.example.com/api/v2/job_templates/7/launch/",
                         {"extra_vars": {"session_id": "s1"}}, "Bearer t0ken")]
    assert run.job_id == 42 and run.status == "pending" and run.alive
    assert run.job_url == "https://awx.example.com/api/v2/jobs/42/"


def test_controller_stop_cancels_the_job(tmp_path):
    http = FakeController()
    launcher = controller(tmp_path, http)
    launcher.start("s1", VARIABLES)
    stopped = launcher.stop("s1", timeout=5)
    assert ("POST", "https://awx.example.com/api/v2/jobs/42/cancel/", {}, "Bearer t0ken") in http.requests
    assert stopped.status == "canceled" and not stopped.alive


@pytest.mark.parametrize("survey", [(), ("hosts", "silent_policy")])
def test_a_template_that_would_ignore_the_session_id_is_not_launched(tmp_path, survey):
    http = FakeController(survey=survey)
    with pytest.raises(LaunchError) as caught:
        controller(tmp_path, http).start("s1", VARIABLES)
    assert caught.value.code == 502
    assert "ignores the session id in session_id" in str(caught.value)
    assert "launcher.controller_session_variable" in str(caught.value) and "ask_variables_on_launch" in str(caught.value)
    assert not [r for r in http.requests if r[0] == "POST"]  # nothing launched: no job maintains every host


def test_a_template_that_prompts_for_variables_takes_the_session_id(tmp_path):
    http = FakeController(survey=(), prompts=True)
    assert controller(tmp_path, http).start("s1", VARIABLES).job_id == 42


def test_a_job_launched_without_its_session_id_is_canceled_at_once(tmp_path):
    http = FakeController(ignored={"extra_vars": {"session_id": "s1"}})  # the survey changed meanwhile
    with pytest.raises(LaunchError, match="its job 42 is canceled"):
        controller(tmp_path, http).start("s1", VARIABLES)
    assert ("POST", "https://awx.example.com/api/v2/jobs/42/cancel/", {}, "Bearer t0ken") in http.requests


class FakeLauncher(Launcher):
    kind = "runner"

    def __init__(self, fail=None):
        super().__init__(LaunchSettings(), "/nonexistent")
        self.started, self.stopped, self.fail, self.runs = [], [], fail, {}

    def start(self, session_id, variables):
        if self.fail:
            raise LaunchError(self.fail, 500)
        self.started.append((session_id, variables))
        self.runs[session_id] = RunInfo("runner", "%s-%d" % (session_id, len(self.started)), "2026-12-03T10:00:00Z",
                                        "running", True, pid=1)
        return self.runs[session_id]

    def find(self, session_id):
        return self.runs.get(session_id)

    def stop(self, session_id, timeout=60.0):
        self.stopped.append(session_id)
        run = self.runs.get(session_id)
        if run is not None:
            run.alive, run.status = False, "canceled"
        return run


@pytest.fixture
def api(tmp_path):
    journal = str(tmp_path / "journal.sqlite")
    app, service = build(ServiceConfig(journal=journal, auth="none"))
    service.launcher = FakeLauncher()
    client = testing.TestClient(app)
    client.service = service
    client.journal = Journal(journal)
    return client


def test_post_creates_the_session_and_starts_its_run(api):
    created = api.simulate_post("/v1/maintenance", json={"hosts": ["compute1"], "session_id": "chg-1"})
    assert created.status_code == 200 and created.json == {"session_id": "chg-1"}
    (session_id, variables), = api.service.launcher.started
    assert session_id == "chg-1"
    assert variables == {"rolling_maintenance_session_id": "chg-1",
                         "rolling_maintenance_journal": api.service.location,
                         "rolling_maintenance_api_mode": "external",
                         "rolling_maintenance_api_url": "http://falconframework.org/v1"}
    detail = api.simulate_get("/v1/maintenance/chg-1/detail").json
    assert detail["run"]["ident"] == "chg-1-1" and detail["run"]["status"] == "running"


def test_the_operators_run_vars_go_to_every_run_under_the_services_own(api, tmp_path):
    run_vars = tmp_path / "run_vars.yml"
    run_vars.write_text("rolling_maintenance_reply_timeout: 30\nrolling_maintenance_session_id: not-this-one\n")
    api.service.config.launch.run_vars = str(run_vars)
    api.simulate_post("/v1/maintenance", json={"hosts": ["compute1"], "session_id": "chg-1"})
    variables = api.service.launcher.started[0][1]
    assert variables["rolling_maintenance_reply_timeout"] == 30
    assert variables["rolling_maintenance_session_id"] == "chg-1"


def test_a_run_that_cannot_start_fails_the_session_with_the_reason(api):
    api.service.launcher.fail = "the runner launcher needs ansible-runner next to /usr/bin"
    answer = api.simulate_post("/v1/maintenance", json={"hosts": ["compute1"], "session_id": "chg-1"})
    assert answer.status_code == 500 and "needs ansible-runner" in answer.json["error"]["message"]
    session = api.journal.session("chg-1")
    assert session.state == "MAINTENANCE_FAILED" and session.reason.startswith("launch: the runner launcher needs")


def test_put_continues_a_failed_session_with_a_new_run_and_post_is_the_same(api):
    api.simulate_post("/v1/maintenance", json={"hosts": ["compute1"], "session_id": "chg-1"})
    api.service.launcher.runs["chg-1"].alive = False
    api.journal.set_session_state("chg-1", "PLANNED_MAINTENANCE")
    api.journal.set_session_state("chg-1", "MAINTENANCE_FAILED", "compute1: plugin failed")
    answer = api.simulate_put("/v1/maintenance/chg-1", json={})
    assert answer.status_code == 200 and answer.json == {"session_id": "chg-1", "state": "PLANNED_MAINTENANCE"}
    assert len(api.service.launcher.started) == 2
    # While that run goes, neither PUT nor the API reference's POST update starts another.
    for method in ("PUT", "POST"):
        refused = api.simulate_request(method, "/v1/maintenance/chg-1", json={})
        assert refused.status_code == 409 and "a run is going already" in refused.json["error"]["message"]
    api.service.launcher.runs["chg-1"].alive = False  # killed: the session is where it stopped
    continued = api.simulate_post("/v1/maintenance/chg-1", json={})
    assert continued.status_code == 200 and continued.json["state"] == "PLANNED_MAINTENANCE"
    assert len(api.service.launcher.started) == 3


def test_a_done_session_is_not_run_again(api):
    api.simulate_post("/v1/maintenance", json={"hosts": ["compute1"], "session_id": "chg-1"})
    api.service.launcher.runs["chg-1"].alive = False
    api.journal.set_session_state("chg-1", "MAINTENANCE_DONE")
    answer = api.simulate_put("/v1/maintenance/chg-1", json={})
    assert answer.status_code == 409 and "MAINTENANCE_DONE: there is nothing to continue" in answer.json["error"]["message"]
    assert len(api.service.launcher.started) == 1


def test_delete_stops_the_run_before_the_session_goes(api):
    api.simulate_post("/v1/maintenance", json={"hosts": ["compute1"], "session_id": "chg-1"})
    answer = api.simulate_delete("/v1/maintenance/chg-1")
    assert answer.status_code == 200 and api.service.launcher.stopped == ["chg-1"]
    assert api.simulate_get("/v1/maintenance/chg-1").status_code == 404


def test_delete_keeps_a_session_whose_run_does_not_stop(api):
    api.simulate_post("/v1/maintenance", json={"hosts": ["compute1"], "session_id": "chg-1"})
    api.service.launcher.stop = lambda session_id, timeout=60.0: api.service.launcher.runs[session_id]
    answer = api.simulate_delete("/v1/maintenance/chg-1")
    assert answer.status_code == 409 and "its run chg-1-1 did not stop; the session is kept" in answer.json["error"]["message"]
    assert api.simulate_get("/v1/maintenance/chg-1").status_code == 200


class Migrations:
    """conn.compute for settle_migrations_from: a migration list per source host that changes per poll."""

    def __init__(self, polls):
        self.polls = polls  # one {host: [(server_id, status)]} per poll
        self.poll = 0
        self.confirmed = []
        self.listed = []

    def migrations(self, source_compute):
        self.listed.append(source_compute)
        current = self.polls[min(self.poll, len(self.polls) - 1)]
        return [SimpleNamespace(server_id=s, status=st) for s, st in current.get(source_compute, [])]

    def get_server(self, server_id):
        return SimpleNamespace(id=server_id, status="VERIFY_RESIZE")

    def confirm_server_resize(self, server):
        self.confirmed.append(server.id)


def test_settle_waits_for_migrations_in_flight_and_confirms_the_cold_ones():
    compute = Migrations([
        {"compute1": [("vm1", "running"), ("vm2", "finished"), ("vm3", "completed")]},
        {"compute1": [("vm1", "completed"), ("vm2", "confirmed"), ("vm3", "completed")]},
    ])

    def sleep(seconds):
        compute.poll += 1
    left = settle_migrations_from(SimpleNamespace(compute=compute), ["compute1", "compute2"], timeout=60, sleep=sleep)
    assert left == [] and compute.confirmed == ["vm2"]
    assert compute.listed == ["compute1", "compute2", "compute1", "compute2"]  # one list per host and poll


def test_settle_names_what_still_moves_at_the_timeout():
    compute = Migrations([{"compute1": [("vm1", "running")]}])
    clock = iter(range(0, 1000, 10))
    left = settle_migrations_from(SimpleNamespace(compute=compute), ["compute1"], timeout=30, sleep=lambda s: None,
                                  clock=lambda: next(clock))
    assert left == ["vm1"]
