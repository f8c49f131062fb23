"""examples/awx_config_as_code/controller.yml, run with the awx.awx modules against a fake AWX API.

No AWX can run here: tests/integration/fake_controller.py stands in for its REST API (this is not
OpenStack, which is never faked). The assertions read the objects the modules made, and compare the
surveys with the variables the wrapper playbooks of examples/awx_project/ actually read.
docs/awx.md runs these tests with:

    python -m pytest tests/integration/test_awx_config.py tests/integration/test_awx_survey.py -q
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import urllib.request
from typing import Dict, Iterator, List, Set

import jinja2
import jinja2.meta
import pytest
import yaml

from conftest import ROOT, ansible_env

PROJECT_DIR = os.path.join(ROOT, "examples", "awx_project")
CONTROLLER_YML = os.path.join(ROOT, "examples", "awx_config_as_code", "controller.yml")
FAKE = os.path.join(ROOT, "tests", "integration", "fake_controller.py")
SCM_URL = "https://git.example.com/ops/fenix-awx-project.git"
SECRET = "Os-Pa55-7f3c9e"
ORG = "Fenix operations"
# Names a wrapper may read that are not survey answers: AWX's job variables, Ansible's own.
NOT_SURVEY = re.compile(r"^(awx_|tower_|ansible_|rolling_maintenance_|fenix_)|^(lookup|query|q|now|omit|item|hostvars)$")


def awx_collection_env() -> Dict[str, str]:
    subprocess.run([os.path.join(ROOT, "scripts", "test_collections")], check=True)
    env = ansible_env()
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


@pytest.fixture(scope="module")
def controller(tmp_path_factory) -> Iterator[dict]:
    env = awx_collection_env()
    password = "admin-pw-31"
    proc = subprocess.Popen(
        [sys.executable, FAKE, "--port", "0", "--password", password, "--scm", "%s=%s" % (SCM_URL, PROJECT_DIR)],
        stdout=subprocess.PIPE, stderr=open(tmp_path_factory.mktemp("fake") / "fake.log", "w"), text=True)
    try:
        line = proc.stdout.readline()
        port = int(line.split()[-1])
        url = "http://127.0.0.1:%d" % port
        env.update(CONTROLLER_HOST=url, CONTROLLER_USERNAME="admin", CONTROLLER_PASSWORD=password)
        yield {"url": url, "env": env}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_controller_yml(controller: dict, tmp_path, verbosity: str = "") -> subprocess.CompletedProcess:
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"fenix_awx_openstack_password": SECRET}))
    command = ["ansible-playbook", CONTROLLER_YML, "-e", "@%s" % secrets_file,
               "-e", json.dumps({"fenix_awx_create_organization": True, "fenix_awx_organization": ORG,
                                 "fenix_awx_project_scm_url": SCM_URL})]
    if verbosity:
        command.append(verbosity)
    result = subprocess.run(command, env=controller["env"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def state(controller: dict) -> dict:
    with urllib.request.urlopen(controller["url"] + "/api/v2/_state/") as response:
        return json.load(response)


def recap(output: str) -> Dict[str, int]:
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, output[-2000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


def templates_in(node) -> Iterator[str]:
    """Every Jinja expression of a task tree: templated strings, and when / that conditionals."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("when", "that", "failed_when", "changed_when"):
                for condition in value if isinstance(value, list) else [value]:
                    if isinstance(condition, str):
                        yield "{{ %s }}" % condition
            else:
                yield from templates_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from templates_in(value)
    elif isinstance(node, str) and "{{" in node:
        yield node


class AnyName(dict):
    """Filters and tests of a template are Ansible's: any name is accepted for parsing."""

    def __contains__(self, name: object) -> bool:
        return True

    def __getitem__(self, name: str):
        return lambda *args, **kwargs: None

    def get(self, name: str, default=None):
        return self[name]


def survey_reads(playbook: str) -> Set[str]:
    """The survey variables a wrapper playbook reads: the free variables of its first play."""
    with open(os.path.join(PROJECT_DIR, playbook), encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    tasks: List[dict] = []
    for task in plays[0]["tasks"]:
        imported = task.get("ansible.builtin.import_tasks")
        if imported:
            with open(os.path.join(PROJECT_DIR, imported), encoding="utf-8") as handle:
                tasks.extend(yaml.safe_load(handle))
        else:
            tasks.append(task)
    env = jinja2.Environment()
    env.filters, env.tests = AnyName(), AnyName()
    names: Set[str] = set()
    set_here: Set[str] = set()
    for task in tasks:
        set_here.update(task.get("ansible.builtin.set_fact", {}) or {})
        set_here.update(task.get("vars", {}) or {})
        for template in templates_in(task):
            names |= jinja2.meta.find_undeclared_variables(env.parse(template))
    return {name for name in names - set_here if not NOT_SURVEY.search(name)}


def test_controller_yml_configures_awx_and_is_idempotent(controller, tmp_path):
    first = run_controller_yml(controller, tmp_path, verbosity="-vv")
    assert recap(first.stdout)["changed"] > 0
    assert SECRET not in first.stdout + first.stderr

    objects = state(controller)
    org = next(o for o in objects["organizations"] if o["name"] == ORG)
    openstack_type = next(t for t in objects["credential_types"] if t["name"] == "OpenStack")
    (credential,) = objects["credentials"]
    assert credential["credential_type"] == openstack_type["id"] and credential["organization"] == org["id"]
    assert credential["inputs"]["password"] == SECRET
    assert {"host", "username", "project"} <= set(credential["inputs"])

    (project,) = objects["projects"]
    assert (project["scm_type"], project["scm_url"], project["organization"]) == ("git", SCM_URL, org["id"])
    files = objects["project_files"][str(project["id"])]
    assert sorted(files["playbooks"]) == ["abort_maintenance.yml", "rolling_maintenance.yml"]

    (inventory,) = objects["inventories"]
    (source,) = objects["inventory_sources"]
    assert source["inventory"] == inventory["id"] and source["source"] == "scm"
    assert source["source_project"] == project["id"] and source["credential"] == credential["id"]
    assert source["source_path"] == "inventory/openstack.compute_hosts.yml"
    assert os.path.isfile(os.path.join(PROJECT_DIR, source["source_path"]))
    assert source["source_path"].endswith(".compute_hosts.yml")  # the only names the plugin reads
    assert source["update_on_launch"] is True

    templates = {t["name"]: t for t in objects["job_templates"]}
    assert {name: (t["playbook"], t["job_type"]) for name, t in templates.items()} == {
        "Fenix rolling maintenance": ("rolling_maintenance.yml", "run"),
        "Fenix rolling maintenance - dry run": ("rolling_maintenance.yml", "check"),
        "Fenix rolling maintenance - resume": ("rolling_maintenance.yml", "run"),
        "Fenix rolling maintenance - abort": ("abort_maintenance.yml", "run"),
    }
    surveys_by_playbook: Dict[str, Set[str]] = {}
    for template in templates.values():
        assert template["job_slice_count"] == 1 and template["ask_job_slice_count_on_launch"] is False
        assert template["allow_simultaneous"] is False and template["ask_limit_on_launch"] is False
        assert template["inventory"] == inventory["id"] and template["project"] == project["id"]
        assert template["survey_enabled"] is True
        # The OpenStack credential's clouds.yaml names its cloud devstack: the runs must use it by name.
        assert json.loads(template["extra_vars"]) == {"rolling_maintenance_cloud": "devstack"}
        assert objects["job_template_credentials"][str(template["id"])] == [credential["id"]]
        survey = [q["variable"] for q in objects["surveys"][str(template["id"])]["spec"]]
        reads = survey_reads(template["playbook"])
        assert set(survey) <= reads, (template["name"], set(survey) - reads)
        surveys_by_playbook.setdefault(template["playbook"], set()).update(survey)
    resume = objects["surveys"][str(templates["Fenix rolling maintenance - resume"]["id"])]["spec"]
    assert next(q for q in resume if q["variable"] == "session_id")["required"] is True
    # Every variable a wrapper reads is asked by some survey, and no survey asks what no wrapper reads.
    assert surveys_by_playbook == {playbook: survey_reads(playbook) for playbook in surveys_by_playbook}
    assert surveys_by_playbook["rolling_maintenance.yml"] == {
        "hosts", "maintenance_at", "workflow", "max_parallel_hosts", "silent_policy", "actions", "session_id"}
    assert objects["open_tokens"] == 0  # every module gave its token back

    second = run_controller_yml(controller, tmp_path)
    assert recap(second.stdout)["changed"] == 0, second.stdout[-3000:]
    assert SECRET not in second.stdout + second.stderr
    assert state(controller)["credentials"][0]["inputs"]["password"] == SECRET


def controller_token(controller: dict) -> str:
    """An OAuth2 token as an operator creates one for the API service (basic auth once)."""
    password = controller["env"]["CONTROLLER_PASSWORD"]
    request = urllib.request.Request(controller["url"] + "/api/v2/tokens/", data=b"{}", method="POST", headers={
        "Authorization": "Basic " + base64.b64encode(("admin:%s" % password).encode()).decode(),
        "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["token"]


def test_the_api_launches_the_resume_template_for_a_posted_session(controller, tmp_path):
    """The controller launcher of the maintenance API against the configured Controller: the exact launch
    AWX expects for the shipped resume template (its survey asks session_id), the job found and canceled."""
    from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import (
        ControllerLauncher,
        LaunchError,
        LaunchSettings,
    )
    run_controller_yml(controller, tmp_path)  # idempotent: the objects of the test above, whatever ran before
    templates = {t["name"]: t for t in state(controller)["job_templates"]}
    resume = templates["Fenix rolling maintenance - resume"]
    settings = LaunchSettings(kind="controller", controller_url=controller["url"],
                              controller_job_template=str(resume["id"]), controller_token=controller_token(controller))
    settings.check()
    launcher = ControllerLauncher(settings, str(tmp_path / "runs"))
    run = launcher.start("chg-1234", {})
    (job,) = state(controller)["jobs"]
    assert job["job_template"] == resume["id"] and run.job_id == job["id"]
    # The survey's defaults fill the questions the launch does not answer, as AWX does.
    assert json.loads(job["extra_vars"]) == {"session_id": "chg-1234", "max_parallel_hosts": 2,
                                             "silent_policy": "LIVE_MIGRATE"}
    assert run.status == "pending" and run.alive
    again = ControllerLauncher(settings, str(tmp_path / "runs")).find("chg-1234")  # a restarted service
    assert again.job_id == job["id"] and again.job_url == "%s/api/v2/jobs/%d/" % (controller["url"], job["id"])
    with pytest.raises(LaunchError, match="a run is going already"):
        launcher.start("chg-1234", {})
    stopped = launcher.stop("chg-1234", timeout=10)
    assert stopped.status == "canceled" and not stopped.alive
    assert state(controller)["jobs"][0]["status"] == "canceled"
    # The maintenance template's survey has no session_id: AWX ignores it, the launcher says what to change.
    wrong = LaunchSettings(kind="controller", controller_url=controller["url"], controller_token=settings.controller_token,
                           controller_job_template=str(templates["Fenix rolling maintenance"]["id"]))
    with pytest.raises(LaunchError) as caught:
        ControllerLauncher(wrong, str(tmp_path / "runs")).start("chg-5678", {})
    assert "ignores the session id in session_id" in str(caught.value)
    assert len(state(controller)["jobs"]) == 1  # refused before the launch: no job maintains every host
