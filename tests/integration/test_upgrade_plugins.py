"""upgrade_plugins through ansible-playbook: a session's actions run on an inventory host.

The host ``compute1`` of a small inventory stands for a compute host
(``ansible_connection: local``); the session is created with the journal
directly in a temporary SQLite file, so the cloud is neither needed nor
touched. The shipped command plugin, a user plugin from plugin_dirs and the
dummy plugin really run; package_upgrade and reboot run in check mode only
(this machine is never upgraded nor rebooted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from conftest import ansible_env

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

# A user plugin that acts on the host through a module, as a real one would:
# it appends its name and metadata to the order log there.
USER_PLUGIN = textwrap.dedent('''
    import json

    from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import UpgradePluginBase


    class UpgradePlugin(UpgradePluginBase):
        def run(self, metadata, host, check_mode):
            line = "my_marker %s %s" % (host, json.dumps(metadata, sort_keys=True))
            result = self.raise_if_failed(
                self.run_module("ansible.builtin.lineinfile", {"path": metadata["log"], "line": line, "create": True}),
                "recording in %s" % metadata["log"])
            return {"changed": result["changed"], "msg": "marked " + host}
''')


class Scenario:
    def __init__(self, tmp_path) -> None:
        self.dir = str(tmp_path)
        self.journal_path = str(tmp_path / "journal.sqlite")
        self.plugin_dir = str(tmp_path / "my_plugins")
        os.mkdir(self.plugin_dir)
        with open(os.path.join(self.plugin_dir, "my_marker.py"), "w") as handle:
            handle.write(USER_PLUGIN)
        self.log = str(tmp_path / "order.log")
        self.created = str(tmp_path / "upgraded.flag")
        self.inventory = str(tmp_path / "inventory.yml")
        with open(self.inventory, "w") as handle:
            yaml.safe_dump({"all": {"hosts": {"compute1": {"ansible_connection": "local"}}}}, handle)
        self.count = 0

    def session(self, session_id: str, actions: list) -> Journal:
        journal = Journal(self.journal_path)
        journal.create_session(["compute1"], session_id=session_id,
                               request={"hosts": ["compute1"], "actions": actions})
        return journal

    def session_actions(self) -> list:
        # Given out of order on purpose: within a type they run by plugin name.
        return [
            {"plugin": "dummy", "type": "post", "metadata": {"changed": True, "msg": "post done"}},
            {"plugin": "my_marker", "type": "host", "metadata": {"log": self.log, "release": "2026.2"}},
            {"plugin": "fenix.maintenance.command", "type": "host", "metadata": {"argv": ["ls", "/nonexistent-fenix-path"]}},
            {"plugin": "command", "type": "host",
             "metadata": {"argv": ["sh", "-c", "echo command >> %s && touch %s" % (self.log, self.created)],
                          "creates": self.created}},
        ]

    def args(self, session_id: str, action_type: str, **more) -> dict:
        return dict(session_id=session_id, journal=self.journal_path, type=action_type, plugin_dirs=[self.plugin_dir], **more)

    def play(self, hosts: str, *tasks: dict, check: bool = False) -> list:
        """Run ``tasks`` (each an upgrade_plugins argument dict) on ``hosts``; their results."""
        self.count += 1
        out = os.path.join(self.dir, "results-%d.json" % self.count)
        play_tasks = [{"name": "upgrade plugins %d" % index, "fenix.maintenance.upgrade_plugins": args,
                       "register": "step_%d" % index, "ignore_errors": True} for index, args in enumerate(tasks)]
        steps = ", ".join("'step_%d': step_%d" % (i, i) for i in range(len(tasks)))
        play_tasks.append({"name": "Save the results", "ansible.builtin.copy": {"content": "{{ {%s} | to_json }}" % steps, "dest": out},
                           "check_mode": False, "delegate_to": "localhost"})
        play = [{"hosts": hosts, "gather_facts": False, "check_mode": check,
                 # As a rolling playbook sets them: the connection options reach this action too.
                 "module_defaults": {"group/fenix.maintenance.maintenance": {"cloud": "fenix-admin"}},
                 "tasks": play_tasks}]
        path = os.path.join(self.dir, "playbook-%d.yml" % self.count)
        with open(path, "w") as handle:
            yaml.safe_dump(play, handle)
        env = dict(ansible_env(), ANSIBLE_CONNECTION="local")
        proc = subprocess.run(["ansible-playbook", "-i", self.inventory, path], capture_output=True, text=True, env=env, check=False)
        sys.stdout.write(proc.stdout[-4000:])
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        with open(out) as handle:
            results = json.load(handle)
        return [results["step_%d" % i] for i in range(len(tasks))]

    def order(self) -> list:
        if not os.path.exists(self.log):
            return []
        with open(self.log) as handle:
            return [line.split(" ", 1)[0] for line in handle.read().splitlines()]


@pytest.fixture
def scenario(tmp_path):
    return Scenario(tmp_path)


def runs(journal: Journal, session_id: str) -> list:
    return [(run.plugin, run.type, run.host, run.state) for run in journal.action_runs(session_id)]


def test_session_actions_run_in_order_stop_at_a_failure_and_resume(scenario):
    journal = scenario.session("s1", scenario.session_actions())

    host, = scenario.play("compute1", scenario.args("s1", "host"))
    # command < fenix.maintenance.command < my_marker: the failure stops my_marker.
    assert host["failed"] is True and host["failed_plugin"] == "fenix.maintenance.command"
    assert "upgrade plugin fenix.maintenance.command (host, compute1) failed: command 'ls /nonexistent-fenix-path'" in host["msg"]
    assert host["not_run"] == ["my_marker"]
    assert [(r["plugin"], r["state"]) for r in host["runs"]] == [("command", "DONE"), ("fenix.maintenance.command", "FAILED")]
    assert scenario.order() == ["command"] and os.path.exists(scenario.created)
    assert runs(journal, "s1") == [("command", "host", "compute1", "DONE"),
                                   ("fenix.maintenance.command", "host", "compute1", "FAILED")]
    failed = journal.action_runs("s1")[1].result
    assert failed["rc"] == 2 and "No such file or directory" in failed["stderr"]
    assert journal.action_runs("s1")[0].result["changed"] is True

    # Resumed with the failing action fixed: what is DONE is skipped, the rest runs, metadata reaches the plugin.
    fixed = [action for action in scenario.session_actions() if action["plugin"] != "fenix.maintenance.command"]
    fixed.append({"plugin": "fenix.maintenance.command", "type": "host", "metadata": {"argv": ["true"]}})
    host, = scenario.play("compute1", scenario.args("s1", "host", actions=fixed))
    assert not host.get("failed"), host["msg"]
    assert [(r["plugin"], r["state"]) for r in host["runs"]] == [
        ("command", "SKIPPED"), ("fenix.maintenance.command", "DONE"), ("my_marker", "DONE")]
    with open(scenario.log) as handle:
        assert handle.read().splitlines() == [
            "command", 'my_marker compute1 {"log": "%s", "release": "2026.2"}' % scenario.log]

    post, = scenario.play("localhost", scenario.args("s1", "post"))
    assert not post.get("failed"), post["msg"]
    assert [(r["plugin"], r["state"], r["host"], r["result"]["msg"]) for r in post["runs"]] == [("dummy", "DONE", None, "post done")]

    assert runs(journal, "s1") == [
        ("command", "host", "compute1", "DONE"),
        ("fenix.maintenance.command", "host", "compute1", "FAILED"),
        ("fenix.maintenance.command", "host", "compute1", "DONE"),
        ("my_marker", "host", "compute1", "DONE"),
        ("dummy", "post", None, "DONE"),
    ]
    for run in journal.action_runs("s1"):
        assert run.started_at <= run.ended_at

    # A second full run does nothing: everything is DONE.
    host, = scenario.play("compute1", scenario.args("s1", "host", actions=fixed))
    assert host["changed"] is False and {r["state"] for r in host["runs"]} == {"SKIPPED"}
    assert len(journal.action_runs("s1")) == 5


def test_unknown_plugin_fails_before_anything_runs(scenario):
    journal = scenario.session("s3", scenario.session_actions() + [{"plugin": "no_such_plugin", "type": "host"}])
    host, = scenario.play("compute1", scenario.args("s3", "host"))
    assert host["failed"] is True and host["msg"].startswith("nothing was run: upgrade plugin no_such_plugin not found")
    assert os.path.join(scenario.plugin_dir, "no_such_plugin.py") in host["msg"]
    assert runs(journal, "s3") == [] and scenario.order() == []


def test_check_mode_runs_the_plugins_in_check_mode_and_writes_nothing(scenario):
    journal = scenario.session("s2", scenario.session_actions())
    events = len(journal.events("s2"))
    fixed = [action for action in scenario.session_actions() if action["plugin"] != "fenix.maintenance.command"]
    host, post, upgrade = scenario.play(
        "compute1",
        scenario.args("s2", "host", actions=fixed),
        scenario.args("s2", "post"),
        # Never for real on this machine: apt-get --simulate, and no reboot at all.
        scenario.args("s2", "compute", actions=[{"plugin": "package_upgrade", "metadata": {"names": "*"}},
                                                {"plugin": "reboot", "metadata": {"reboot_timeout": 600}}]),
        check=True)

    assert not host.get("failed"), host["msg"]
    assert [(r["plugin"], r["state"], r["run_id"]) for r in host["runs"]] == [("command", "DONE", None), ("my_marker", "DONE", None)]
    assert host["runs"][0]["result"]["msg"] == "would run sh -c echo command >> %s && touch %s" % (scenario.log, scenario.created)
    assert host["runs"][1]["result"]["changed"] is True  # lineinfile would add the line
    assert not post.get("failed") and post["runs"][0]["result"]["msg"] == "post done"

    assert not upgrade.get("failed"), upgrade["msg"]
    package, reboot = upgrade["runs"]
    assert package["plugin"] == "package_upgrade" and package["state"] == "DONE"
    assert package["result"]["msg"] in ("would upgrade *", "nothing to upgrade in *")
    assert reboot["result"] == {"changed": True, "rebooted": False, "msg": "would reboot compute1"}

    assert runs(journal, "s2") == [] and len(journal.events("s2")) == events
    assert scenario.order() == [] and not os.path.exists(scenario.created)
