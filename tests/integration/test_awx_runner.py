"""examples/awx_project run by ansible-runner the way AWX runs a job, against the test cloud.

AWX runs a job as ansible-runner over a private data directory: project/
(the synced project), requirements_collections/ (what the project update
installed from collections/requirements.yml), inventory/, env/extravars (job
template extra vars, survey answers and AWX's own awx_* variables),
env/envvars (the credentials' environment), env/cmdline (--check for a job of
type check); it reads the job's events and set_stats back from artifacts/.
The tests lay that directory out, run ansible_runner.run on it and check the
artifacts, then the cloud itself with openstacksdk.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import time

import ansible_runner
import openstack
import pytest
import yaml

from conftest import ADMIN_CLOUD, CLOUDCTL, CLOUDS_YAML, ROOT, ansible_env, build_collection
from test_rolling_maintenance import enabled_everywhere, start_vnfms, stop_all, webhook_urls

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

PROJECT = os.path.join(ROOT, "examples", "awx_project")
INVENTORY_SOURCE = os.path.join("inventory", "openstack.compute_hosts.yml")
HOSTS = ["compute1", "compute2"]
API_PORT = 12372
# Nova's migration statuses for a move that went through (live: completed; cold, once confirmed: confirmed).
MOVED = ("completed", "confirmed", "finished")


def awx_meta_vars(job_id: int, template: str) -> dict:
    """The extra vars AWX adds to every job a user launches from a job template (awx_meta_vars of its Job)."""
    meta = {}
    for prefix in ("awx", "tower"):
        meta.update({
            prefix + "_job_id": job_id,
            prefix + "_job_launch_type": "manual",
            prefix + "_user_id": 1,
            prefix + "_user_name": "admin",
            prefix + "_user_email": "admin@example.com",
            prefix + "_user_first_name": "",
            prefix + "_user_last_name": "",
            prefix + "_inventory_id": 2,
            prefix + "_inventory_name": "compute hosts",
            prefix + "_project_revision": "0123456789abcdef0123456789abcdef01234567",
            prefix + "_project_scm_branch": "main",
            prefix + "_job_template_id": 7,
            prefix + "_job_template_name": template,
        })
    return meta


def job_template_vars() -> dict:
    """The job template's own variables (examples/awx_project/README.md: every rolling_maintenance_* not in the survey)."""
    # The cloud of the clouds.yaml AWX's OpenStack credential writes: it sets OS_CLIENT_CONFIG_FILE, not OS_CLOUD,
    # and the embedded API's Keystone auth needs a cloud by name.
    return {"rolling_maintenance_cloud": "devstack"}


def survey_answers(**overrides) -> dict:
    """Answers as AWX's survey passes them: text and textarea as strings, integer questions as int."""
    answers = {
        "hosts": "\n".join(HOSTS) + "\n",
        "maintenance_at": "",
        "workflow": "default",
        "max_parallel_hosts": 2,
        "silent_policy": "LIVE_MIGRATE",
        "actions": '[{"plugin": "dummy", "type": "host", "metadata": {"seconds": 1}}]',
        "session_id": "",
    }
    answers.update(overrides)
    return answers


def credential_clouds_yaml(path: str) -> None:
    """A clouds.yaml as AWX's OpenStack credential writes it: one cloud, "devstack" (here the test cloud's admin)."""
    with open(CLOUDS_YAML) as handle:
        clouds = yaml.safe_load(handle)["clouds"]
    with open(path, "w") as handle:
        yaml.safe_dump({"clouds": {"devstack": clouds[ADMIN_CLOUD]}}, handle)


def project_update(pdd: str, tarball: str) -> None:
    """Copy the project and install its collections/requirements.yml as AWX's project update does."""
    project = os.path.join(pdd, "project")
    shutil.copytree(PROJECT, project)
    requirements_file = os.path.join(project, "collections", "requirements.yml")
    with open(requirements_file) as handle:
        requirements = yaml.safe_load(handle)
    # The example's source is where the collection is published; the test installs this checkout's
    # build instead, so that the run exercises the code under test (in the test's copy only).
    entries = [entry for entry in requirements["collections"] if "fenix" in str(entry.get("name", entry))]
    assert len(entries) == 1, requirements
    requirements["collections"] = [entry for entry in requirements["collections"] if entry not in entries]
    requirements["collections"].append({"name": tarball, "type": "file"})
    with open(requirements_file, "w") as handle:
        yaml.safe_dump(requirements, handle)
    target = os.path.join(pdd, "requirements_collections")
    subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "-r", requirements_file, "-p", target],
                   check=True, capture_output=True, text=True,
                   env=dict(ansible_env(), ANSIBLE_COLLECTIONS_PATH=target))


def inventory(pdd: str) -> None:
    """The project's inventory source, as an inventory source "Sourced from a Project" gives it to the job."""
    with open(os.path.join(PROJECT, INVENTORY_SOURCE)) as handle:
        source = yaml.safe_load(handle)
    # The test cloud's computes are processes on this machine, without SSH: the upgrade plugins run locally.
    source.setdefault("compose", {})["ansible_connection"] = "'local'"
    os.makedirs(os.path.join(pdd, "inventory"))
    with open(os.path.join(pdd, INVENTORY_SOURCE), "w") as handle:
        yaml.safe_dump(source, handle)


def private_data_dir(workdir, tarball: str, extravars: dict, check: bool = False) -> str:
    pdd = os.path.join(str(workdir), "pdd")
    os.makedirs(os.path.join(pdd, "env"))
    project_update(pdd, tarball)
    inventory(pdd)
    credential_clouds_yaml(os.path.join(pdd, "env", "clouds.yaml"))
    envvars = {
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(pdd, "requirements_collections"),
        "OS_CLIENT_CONFIG_FILE": os.path.join(pdd, "env", "clouds.yaml"),
        # The journal of this job, where a shared journal would be named in production.
        "FENIX_JOURNAL": os.path.join(str(workdir), "journal.sqlite"),
        # The execution environment's Python, with the collection's requirements.
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "JOB_ID": str(extravars["awx_job_id"]),
    }
    with open(os.path.join(pdd, "env", "envvars"), "w") as handle:
        json.dump(envvars, handle)
    with open(os.path.join(pdd, "env", "extravars"), "w") as handle:
        json.dump(extravars, handle)
    with open(os.path.join(pdd, "env", "settings"), "w") as handle:
        json.dump({"job_timeout": 900, "suppress_ansible_output": True}, handle)
    if check:
        with open(os.path.join(pdd, "env", "cmdline"), "w") as handle:
            handle.write("--check")
    return pdd


def job_events(pdd: str, ident: str) -> list:
    folder = os.path.join(pdd, "artifacts", ident, "job_events")
    events = []
    for name in os.listdir(folder):
        with open(os.path.join(folder, name)) as handle:
            events.append(json.load(handle))
    return sorted(events, key=lambda event: event["counter"])


def check_artifacts(pdd: str, ident: str) -> list:
    artifacts = os.path.join(pdd, "artifacts", ident)
    for name in ("job_events", "stdout", "rc", "status", "command"):
        assert os.path.exists(os.path.join(artifacts, name)), name
    with open(os.path.join(artifacts, "rc")) as handle:
        assert handle.read().strip() == "0"
    with open(os.path.join(artifacts, "status")) as handle:
        assert handle.read().strip() == "successful"
    return job_events(pdd, ident)


def moves_in_nova(conn, since: datetime.datetime) -> list:
    return [m for m in conn.compute.migrations()
            if m.source_compute in HOSTS and m.status in MOVED
            and datetime.datetime.fromisoformat(m.created_at.rstrip("Z")) >= since]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    return build_collection(str(tmp_path_factory.mktemp("build")))


@pytest.fixture
def reseeded(test_cloud):
    subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(test_cloud, "seed.json")) as handle:
        return json.load(handle)


def test_maintenance_job_through_ansible_runner(tmp_path, tarball, reseeded):
    conn = openstack.connect(cloud=ADMIN_CLOUD)
    before = {s.id: s.compute_host for s in conn.compute.servers(details=True, all_projects=True)}
    on_hosts = sorted(server for server, host in before.items() if host in HOSTS)
    assert on_hosts, "the seed put no server on %s" % HOSTS
    vnfms = start_vnfms(tmp_path, reseeded, {"tenant-a": "live_migrate", "tenant-b": "migrate", "tenant-c": "silent"})
    extravars = {
        **job_template_vars(),
        # Where the projects are told and how long they have.
        "rolling_maintenance_webhook": {"urls": webhook_urls(reseeded, vnfms), "retries": 2, "retry_delay": 0.5},
        "rolling_maintenance_reply_timeout": 10,  # the silent tenant-c costs this at the first state,
        "rolling_maintenance_silent_projects": "decide_at_once",  # the later ones decide for it at once
        "rolling_maintenance_renotify": 1,
        "rolling_maintenance_poll_interval": 1,
        "rolling_maintenance_api_bind": "127.0.0.1:%d" % API_PORT,
        "rolling_maintenance_api_run_dir": os.path.join(str(tmp_path), "api"),
        **survey_answers(),
        **awx_meta_vars(41, "Rolling maintenance"),
    }
    pdd = private_data_dir(tmp_path, tarball, extravars)
    since = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
    started = time.monotonic()
    try:
        result = ansible_runner.run(private_data_dir=pdd, playbook="rolling_maintenance.yml", ident="41", quiet=True)
    finally:
        stop_all(vnfms)
    print("ansible-runner run took %.1f s" % (time.monotonic() - started))
    with open(os.path.join(pdd, "artifacts", "41", "stdout")) as handle:
        stdout = handle.read()
    assert (result.status, result.rc) == ("successful", 0), stdout[-4000:]
    events = check_artifacts(pdd, "41")

    stats = [event for event in events if event["event"] == "playbook_on_stats"]
    assert len(stats) == 1
    summary = stats[0]["event_data"]["artifact_data"]["fenix_maintenance"]
    print("artifact_data:", json.dumps(stats[0]["event_data"]["artifact_data"], indent=1))
    assert summary["state"] == "MAINTENANCE_DONE"
    assert summary["hosts_maintained"] == HOSTS and summary["hosts_total"] == len(HOSTS)
    assert summary["hosts_disabled_by_session"] == []
    journal = Journal(os.path.join(str(tmp_path), "journal.sqlite"))
    assert journal.session(summary["session_id"]).state == "MAINTENANCE_DONE"
    # Every server that was on the two hosts moved once, as Nova's migrations and the summary both say.
    nova_moves = moves_in_nova(conn, since)
    assert sorted(m.server_id for m in nova_moves) == on_hosts
    assert sum(summary["moves"].values()) == len(nova_moves)
    assert set(summary["moves"]) <= {"LIVE_MIGRATE", "MIGRATE"}

    # The cloud, read independently: both hosts enabled, every server in its seeded status.
    services = {s.host: s for s in conn.compute.services(binary="nova-compute")}
    assert [services[host].status for host in HOSTS] == ["enabled", "enabled"]
    assert enabled_everywhere(conn)
    now = {s.id: s for s in conn.compute.servers(details=True, all_projects=True)}
    assert sorted(now) == sorted(s["id"] for s in reseeded["servers"])
    for server in reseeded["servers"]:
        assert now[server["id"]].status == server["status"], server
    # Each moved away from its host (onto any other, an already maintained one of the two included).
    assert [server for server in on_hosts if now[server].compute_host == before[server]] == []


def test_dry_run_job_through_ansible_runner(tmp_path, tarball, test_cloud):
    conn = openstack.connect(cloud=ADMIN_CLOUD)
    before = {s.id: (s.compute_host, s.status) for s in conn.compute.servers(details=True, all_projects=True)}
    extravars = {**job_template_vars(), **survey_answers(), **awx_meta_vars(42, "Rolling maintenance (dry run)")}
    pdd = private_data_dir(tmp_path, tarball, extravars, check=True)
    result = ansible_runner.run(private_data_dir=pdd, playbook="rolling_maintenance.yml", ident="42", quiet=True)
    with open(os.path.join(pdd, "artifacts", "42", "stdout")) as handle:
        stdout = handle.read()
    assert (result.status, result.rc) == ("successful", 0), stdout[-4000:]
    events = check_artifacts(pdd, "42")
    with open(os.path.join(pdd, "artifacts", "42", "command")) as handle:
        assert "--check" in json.load(handle)["command"]

    plans = [event["event_data"]["res"]["msg"] for event in events
             if event["event"] == "runner_on_ok" and event["event_data"].get("task") == "Show the plan"]
    assert len(plans) == 1, [e["event_data"].get("task") for e in events if e["event"] == "runner_on_ok"]
    assert sorted(host for batch in plans[0]["batches"] for host in batch) == HOSTS
    assert plans[0]["blockers"] == []
    # Nothing changed: no journal, every host enabled, every server where and as it was.
    assert not os.path.exists(os.path.join(str(tmp_path), "journal.sqlite"))
    assert enabled_everywhere(conn)
    assert {s.id: (s.compute_host, s.status) for s in conn.compute.servers(details=True, all_projects=True)} == before
