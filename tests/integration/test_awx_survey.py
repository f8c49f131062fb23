"""The survey conversion of examples/awx_project/: survey-shaped answers -> rolling_maintenance_* variables.

Only the first play of each wrapper runs (`--tags survey`: the collection's plays it imports have no
task with that tag), so no cloud is needed; the whole run against the test cloud is in the
ansible-runner test. Results are read from the minimal callback: the facts each task set.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any, Dict, List, Tuple

import pytest
import yaml

from conftest import ROOT, ansible_env

PROJECT_DIR = os.path.join(ROOT, "examples", "awx_project")
CONTROLLER_YML = os.path.join(ROOT, "examples", "awx_config_as_code", "controller.yml")


RESULT_LINE = re.compile(r"^localhost \| (SUCCESS|CHANGED|FAILED!|SKIPPED)( => )?", re.M)


def run_wrapper(playbook: str, answers: Dict[str, Any], callback: str) -> subprocess.CompletedProcess:
    env = ansible_env()
    env["ANSIBLE_STDOUT_CALLBACK"] = callback
    env["ANSIBLE_NOCOLOR"] = "1"
    return subprocess.run(
        ["ansible-playbook", os.path.join(PROJECT_DIR, playbook), "--tags", "survey", "-e", json.dumps(answers)],
        env=env, capture_output=True, text=True, check=False)


def convert(playbook: str, answers: Dict[str, Any]) -> Tuple[bool, Dict[str, Any], List[str]]:
    """(succeeded, facts set by the survey play, failure messages) of one wrapper run."""
    result = run_wrapper(playbook, answers, "ansible.builtin.minimal")
    decoder = json.JSONDecoder()
    facts: Dict[str, Any] = {}
    failures: List[str] = []
    for match in RESULT_LINE.finditer(result.stdout):
        if not match.group(2):
            continue
        outcome, _end = decoder.raw_decode(result.stdout, match.end())
        facts.update(outcome.get("ansible_facts", {}))
        if match.group(1) == "FAILED!":
            failures.append(outcome.get("msg", ""))
    assert result.returncode == (2 if failures else 0), result.stdout[-2000:] + result.stderr[-2000:]
    return not failures, facts, failures


def failure(playbook: str, answers: Dict[str, Any]) -> str:
    succeeded, _facts, failures = convert(playbook, answers)
    assert not succeeded, "accepted %r" % answers
    return failures[-1]  # a rescued parse error comes first; the last one is what the job ends with


def test_full_answers_become_role_variables():
    ok, facts = convert("rolling_maintenance.yml", {
        "hosts": "compute1\r\ncompute2, compute3\n\ncompute1\n",
        "maintenance_at": "2026-12-01 02:00:00",
        "workflow": "kernel-upgrade",
        "max_parallel_hosts": 3,
        "silent_policy": "MIGRATE",
        "actions": '[{"plugin": "dummy", "type": "host", "metadata": {"reboot": false}}]',
    })[:2]
    assert ok
    role_vars = {k: v for k, v in facts.items() if k.startswith("rolling_maintenance_")}
    assert role_vars == {
        "rolling_maintenance_hosts": ["compute1", "compute2", "compute3"],
        "rolling_maintenance_maintenance_at": "2026-12-01 02:00:00",
        "rolling_maintenance_workflow": "kernel-upgrade",
        "rolling_maintenance_max_parallel_hosts": 3,
        "rolling_maintenance_silent_policy": "MIGRATE",
        "rolling_maintenance_actions": [{"plugin": "dummy", "type": "host", "metadata": {"reboot": False}}],
    }


def test_yaml_actions_string_integer_and_resume_session():
    ok, facts = convert("rolling_maintenance.yml", {
        "session_id": " rm-20261201T020000-42 ",
        "max_parallel_hosts": "4",
        "actions": "- plugin: command\n  type: compute\n  metadata:\n    command: uptime\n",
    })[:2]
    assert ok
    assert facts["rolling_maintenance_session_id"] == "rm-20261201T020000-42"
    assert facts["rolling_maintenance_max_parallel_hosts"] == 4
    assert facts["rolling_maintenance_actions"] == [{"plugin": "command", "type": "compute", "metadata": {"command": "uptime"}}]
    assert "rolling_maintenance_hosts" not in facts  # not asked: the role's default (every host) stays


def test_empty_answers_keep_the_role_defaults():
    ok, facts = convert("rolling_maintenance.yml", {
        "hosts": "", "maintenance_at": "", "workflow": "", "max_parallel_hosts": "", "silent_policy": "", "actions": ""})[:2]
    assert ok
    assert facts["rolling_maintenance_hosts"] == [] and facts["rolling_maintenance_actions"] == []
    assert facts["rolling_maintenance_maintenance_at"] == ""
    for unset in ("rolling_maintenance_workflow", "rolling_maintenance_max_parallel_hosts", "rolling_maintenance_silent_policy"):
        assert unset not in facts


def test_the_survey_defaults_of_the_job_templates_are_accepted():
    with open(CONTROLLER_YML, encoding="utf-8") as handle:
        play = yaml.safe_load(handle)[0]
    questions = {q["variable"]: q for q in play["vars"]["fenix_awx_questions"]}
    for template in play["vars"]["fenix_awx_job_templates"]:
        answers = {name: questions[name]["default"] for name in template["survey"]}
        if "session_id" in answers:
            answers["session_id"] = "rm-1"  # required: AWX asks for it
        ok, _facts, failures = convert(template["playbook"], answers)
        assert ok, (template["name"], failures)


@pytest.mark.parametrize("answers, field, hint", [
    ({"awx_job_slice_count": 2}, "job slicing", "set \"Job Slicing\" of the job template to 1"),
    ({"tower_job_slice_count": "3"}, "job slicing", "one of 3 slices"),
    ({"awx_job_template_name": "Fenix rolling maintenance", "awx_workflow_job_name": "Fenix rolling maintenance",
      "awx_workflow_job_id": 7}, "job slicing", "workflow job named like its job template"),
    ({"hosts": "compute1 compute2"}, "hosts:", '"compute1 compute2" is not a compute host name'),
    ({"hosts": "compute1\ncomp;ute2"}, "hosts:", "one per line or separated by commas"),
    ({"actions": '[{"plugin": "dummy", "type": "host"'}, "actions: not valid JSON or YAML", "give a list of upgrade plugins"),
    ({"actions": '{"plugin": "dummy", "type": "host"}'}, "actions:", "is not a list of upgrade plugins"),
    ({"actions": '[{"type": "host"}]'}, "actions:", "is not a list of upgrade plugins"),
    ({"actions": '["dummy"]'}, "actions:", "is not a list of upgrade plugins"),
    ({"max_parallel_hosts": "two"}, "max_parallel_hosts:", "not a whole number of 1 or more"),
    ({"max_parallel_hosts": 0}, "max_parallel_hosts:", "not a whole number of 1 or more"),
    ({"silent_policy": "IGNORE"}, "silent_policy:", "not one of LIVE_MIGRATE, MIGRATE, fail"),
    ({"maintenance_at": "tomorrow 2am"}, "maintenance_at:", "YYYY-MM-DD HH:MM:SS"),
])
def test_bad_answers_fail_naming_the_survey_field(answers, field, hint):
    message = failure("rolling_maintenance.yml", answers)
    assert message.startswith(field) and hint in message, message


def test_an_own_workflow_with_another_name_is_not_a_slice():
    succeeded = convert("rolling_maintenance.yml", {
        "awx_job_id": 12, "awx_job_template_name": "Fenix rolling maintenance",
        "awx_workflow_job_name": "Monthly patching", "awx_workflow_job_id": 7, "hosts": "compute1"})[0]
    assert succeeded


def test_abort_answers():
    ok, facts = convert("abort_maintenance.yml", {"session_id": "rm-9", "reason": "change window over", "delete": "yes"})[:2]
    assert ok
    assert {k: v for k, v in facts.items() if k.startswith("rolling_maintenance_")} == {
        "rolling_maintenance_session_id": "rm-9",
        "rolling_maintenance_abort_reason": "change window over",
        "rolling_maintenance_abort_delete": True,
    }
    ok, facts = convert("abort_maintenance.yml", {"session_id": "rm-9", "delete": "no"})[:2]
    assert ok and facts["rolling_maintenance_abort_delete"] is False
    assert failure("abort_maintenance.yml", {"session_id": " "}).startswith("session_id: missing")
    assert failure("abort_maintenance.yml", {"session_id": "rm-9", "delete": "maybe"}).startswith("delete:")
    assert failure("abort_maintenance.yml", {"session_id": "rm-9", "awx_job_slice_count": 4}).startswith("job slicing")


def task_names(node) -> List[str]:
    if isinstance(node, list):
        return [name for item in node for name in task_names(item)]
    if not isinstance(node, dict):
        return []
    names = [node["name"]] if "name" in node else []
    imported = node.get("ansible.builtin.import_tasks")
    if imported:
        with open(os.path.join(PROJECT_DIR, imported), encoding="utf-8") as handle:
            names += task_names(yaml.safe_load(handle))
    for key in ("tasks", "block", "rescue", "always"):
        names += task_names(node.get(key, []))
    return names


def test_only_the_survey_play_runs_under_the_survey_tag():
    result = run_wrapper("rolling_maintenance.yml", {"hosts": "compute1", "actions": "[]"}, "ansible.builtin.default")
    assert result.returncode == 0, result.stdout[-2000:]
    with open(os.path.join(PROJECT_DIR, "rolling_maintenance.yml"), encoding="utf-8") as handle:
        survey_play = yaml.safe_load(handle)[0]
    ran = set(re.findall(r"^TASK \[(.*?)\]", result.stdout, re.M))
    assert "Set the hosts to maintain" in ran
    assert ran <= set(task_names(survey_play)), ran - set(task_names(survey_play))
    assert "PLAY [Rolling maintenance - the hosts, batch after batch]" in result.stdout
