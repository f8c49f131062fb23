"""The upgrade_plugins action plugin: loading, order, skip-when-done, failure stop, check mode, journal.

The action plugin runs in-process with a mocked task and connection; its
upgrade plugins are files written into a temporary plugin directory that
record their calls in task_vars["calls"], or the shipped plugins with the
modules and action plugins they run replaced by recorders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace
from unittest import mock

import pytest

from ansible_collections.fenix.maintenance.plugins.action import upgrade_plugins
from ansible_collections.fenix.maintenance.plugins.action.upgrade_plugins import ActionModule
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import PLUGIN_TYPES
from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import (
    PluginNotFound,
    UpgradePluginError,
    load_plugin,
)
from ansible_collections.fenix.maintenance.plugins.sub_plugins.upgrade import command, dummy, package_upgrade, reboot

SESSION = "chg-1"

# A user plugin: records (name, metadata, host, check_mode) and returns its
# metadata's "returns", or raises what metadata "raise_" asks for.
RECORDER = textwrap.dedent('''
    from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import UpgradePluginError


    class UpgradePlugin:
        def __init__(self, action, task_vars):
            self.calls = task_vars.setdefault("calls", [])

        def run(self, metadata, host, check_mode):
            self.calls.append((NAME, metadata, host, check_mode))
            if metadata.get("raise_") == "plugin_error":
                raise UpgradePluginError("%s broke" % NAME, rc=3, stderr="disk full")
            if metadata.get("raise_") == "bug":
                raise KeyError("oops")
            return metadata.get("returns", {"changed": True, "msg": NAME + " ran"})
''')


@pytest.fixture
def plugin_dir(tmp_path):
    directory = tmp_path / "upgrade_plugins"
    directory.mkdir()
    for name in ("alpha", "beta", "gamma", "pre_check", "post_report"):
        (directory / (name + ".py")).write_text("NAME = %r\n" % name + RECORDER)
    return str(directory)


def make_journal(location, actions, hosts=("compute1", "compute2")) -> Journal:
    journal = Journal(location)
    journal.create_session(list(hosts), session_id=SESSION, request={"hosts": list(hosts), "actions": actions})
    return journal


def run_action(args, task_vars=None, check_mode=False):
    """The action plugin's result for task ``args``, and the task_vars its plugins saw."""
    task = mock.MagicMock()
    task.args = dict(args)
    task.check_mode = check_mode
    task.async_val = 0
    task.action = "fenix.maintenance.upgrade_plugins"
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    connection.transport = "local"
    loader = mock.MagicMock()
    loader.path_dwim.side_effect = lambda path: path
    action = ActionModule(task, connection, mock.MagicMock(), loader, mock.MagicMock(), mock.MagicMock())
    task_vars = dict(task_vars or {"inventory_hostname": "compute1"})
    return action.run(task_vars=task_vars), task_vars


def result_of(args, task_vars=None, check_mode=False):
    return run_action(args, task_vars, check_mode)[0]


def states(journal):
    return [(run.plugin, run.type, run.host, run.state) for run in journal.action_runs(SESSION)]


HOST_ACTIONS = [
    {"plugin": "gamma", "type": "host", "metadata": {"n": 3}},
    {"plugin": "pre_check", "type": "pre", "metadata": {}},
    {"plugin": "alpha", "type": "host", "metadata": {"n": 1}},
    {"plugin": "beta", "type": "host", "metadata": {"n": 2}},
    {"plugin": "post_report", "type": "post"},
]


def test_runs_the_type_in_alphabetical_order_with_metadata_and_records_it(location, plugin_dir):
    journal = make_journal(location, HOST_ACTIONS)
    result, seen = run_action(dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[plugin_dir]))

    assert not result.get("failed"), result["msg"]
    assert seen["calls"] == [("alpha", {"n": 1}, "compute1", False), ("beta", {"n": 2}, "compute1", False),
                             ("gamma", {"n": 3}, "compute1", False)]
    assert result["changed"] is True and result["not_run"] == []
    assert [(r["plugin"], r["state"], r["host"]) for r in result["runs"]] == [
        ("alpha", "DONE", "compute1"), ("beta", "DONE", "compute1"), ("gamma", "DONE", "compute1")]
    assert states(journal) == [("alpha", "host", "compute1", "DONE"), ("beta", "host", "compute1", "DONE"),
                               ("gamma", "host", "compute1", "DONE")]
    recorded = journal.action_runs(SESSION)[0]
    assert recorded.result == {"changed": True, "msg": "alpha ran"}
    assert recorded.started_at <= recorded.ended_at
    assert result["runs"][0]["run_id"] == recorded.run_id and result["runs"][0]["ended_at"] == recorded.ended_at
    kinds = [event["kind"] for event in journal.events(SESSION)]
    assert kinds.count("action.started") == 3 and kinds.count("action.done") == 3


def test_pre_and_post_run_without_a_host(tmp_path, plugin_dir):
    location = str(tmp_path / "journal.sqlite")
    journal = make_journal(location, HOST_ACTIONS)
    result, seen = run_action(dict(session_id=SESSION, journal=location, type="pre", plugin_dirs=[plugin_dir]))
    assert not result.get("failed") and seen["calls"] == [("pre_check", {}, None, False)]
    assert states(journal) == [("pre_check", "pre", None, "DONE")]

    result, seen = run_action(dict(session_id=SESSION, journal=location, type="controller", plugin_dirs=[plugin_dir]))
    assert result["runs"] == [] and "no controller actions" in result["msg"] and not seen.get("calls")


def test_controller_plugins_run_on_each_controller_host_and_are_skipped_there_when_done(tmp_path, plugin_dir):
    location = str(tmp_path / "journal.sqlite")
    actions = HOST_ACTIONS + [{"plugin": "beta", "type": "controller", "metadata": {"raise_": "plugin_error"}},
                              {"plugin": "alpha", "type": "controller", "metadata": {"n": 1}}]
    journal = make_journal(location, actions)
    args = dict(session_id=SESSION, journal=location, type="controller", plugin_dirs=[plugin_dir])

    # A controller host is not one of the session's (compute) hosts, and nothing refuses it: the role runs the
    # type on the hosts of its controller group. The first failure stops the type, as for any host.
    result, seen = run_action(args, task_vars={"inventory_hostname": "ctl1"})
    assert seen["calls"] == [("alpha", {"n": 1}, "ctl1", False), ("beta", {"raise_": "plugin_error"}, "ctl1", False)]
    assert result["failed"] is True
    assert result["msg"] == "upgrade plugin beta (controller, ctl1) failed: beta broke (rc=3): disk full"
    assert states(journal) == [("alpha", "controller", "ctl1", "DONE"), ("beta", "controller", "ctl1", "FAILED")]

    # Resumed once beta is fixed: alpha, DONE on ctl1, is skipped there; beta runs again. ctl2 runs both.
    fixed = [dict(action, metadata={}) if action["type"] == "controller" else action for action in actions]
    result, seen = run_action(dict(args, actions=fixed), task_vars={"inventory_hostname": "ctl1"})
    assert not result.get("failed"), result["msg"]
    assert [call[0] for call in seen["calls"]] == ["beta"]
    assert [(r["plugin"], r["state"], r["host"]) for r in result["runs"]] == [
        ("alpha", "SKIPPED", "ctl1"), ("beta", "DONE", "ctl1")]
    assert result["msg"] == "ran beta; skipped (done before): alpha"
    result, seen = run_action(dict(args, actions=fixed), task_vars={"inventory_hostname": "ctl2"})
    assert [(call[0], call[2]) for call in seen["calls"]] == [("alpha", "ctl2"), ("beta", "ctl2")]

    # Run again for both: nothing runs, nothing is recorded.
    for host in ("ctl1", "ctl2"):
        result, seen = run_action(dict(args, actions=fixed), task_vars={"inventory_hostname": host})
        assert not seen.get("calls") and result["changed"] is False
        assert [r["state"] for r in result["runs"]] == ["SKIPPED", "SKIPPED"]
    assert states(journal)[2:] == [("beta", "controller", "ctl1", "DONE"), ("alpha", "controller", "ctl2", "DONE"),
                                   ("beta", "controller", "ctl2", "DONE")]
    # A DONE controller run is for its type and host only: the same plugin as a host action still runs on compute1.
    result, seen = run_action(dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[plugin_dir]))
    assert [call[0] for call in seen["calls"]] == ["alpha", "beta", "gamma"]


def test_site_checks_run_on_a_session_host_and_a_failed_one_fails_with_its_message(tmp_path, plugin_dir):
    location = str(tmp_path / "journal.sqlite")
    actions = HOST_ACTIONS + [{"plugin": "beta", "type": "check", "metadata": {"raise_": "plugin_error"}},
                              {"plugin": "alpha", "type": "check", "metadata": {"n": 1}}]
    journal = make_journal(location, actions)
    result, seen = run_action(dict(session_id=SESSION, journal=location, type="check", plugin_dirs=[plugin_dir]),
                              task_vars={"inventory_hostname": "compute2"})
    # Only the check actions, by name, on the task's host; the failed one stops the type with its message.
    assert [call[0] for call in seen["calls"]] == ["alpha", "beta"] and seen["calls"][0][2] == "compute2"
    assert result["failed"] is True
    assert result["msg"] == "upgrade plugin beta (check, compute2) failed: beta broke (rc=3): disk full"
    assert states(journal) == [("alpha", "check", "compute2", "DONE"), ("beta", "check", "compute2", "FAILED")]
    # A check is for a host of the session, like the host and compute types.
    result, seen = run_action(dict(session_id=SESSION, journal=location, type="check", plugin_dirs=[plugin_dir]),
                              task_vars={"inventory_hostname": "compute9"})
    assert result["failed"] is True and not seen.get("calls")
    assert "host: compute9 is not a host of session chg-1" in result["msg"]


def test_a_failure_stops_the_type_and_is_recorded(location, plugin_dir):
    actions = [{"plugin": "alpha", "type": "host"},
               {"plugin": "beta", "type": "host", "metadata": {"raise_": "plugin_error"}},
               {"plugin": "gamma", "type": "host"}]
    journal = make_journal(location, actions)
    result, seen = run_action(dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[plugin_dir]))

    assert result["failed"] is True and result["failed_plugin"] == "beta"
    assert "upgrade plugin beta (host, compute1) failed: beta broke" in result["msg"] and "not run: gamma" in result["msg"]
    assert [call[0] for call in seen["calls"]] == ["alpha", "beta"]
    assert result["not_run"] == ["gamma"]
    assert [r["state"] for r in result["runs"]] == ["DONE", "FAILED"]
    assert states(journal) == [("alpha", "host", "compute1", "DONE"), ("beta", "host", "compute1", "FAILED")]
    assert journal.action_runs(SESSION)[1].result == {"msg": "beta broke", "rc": 3, "stderr": "disk full"}
    assert "action.failed" in [event["kind"] for event in journal.events(SESSION)]


def test_the_failure_message_carries_the_exit_code_and_the_tail_of_the_output(location, plugin_dir):
    output = "\n".join("line %d" % number for number in range(1, 21))
    make_journal(location, [{"plugin": "alpha", "type": "host", "metadata": {"returns": {
        "failed": True, "msg": "upgrade script failed", "rc": 7, "stdout": output, "stderr": ""}}}])
    result, _seen = run_action(dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[plugin_dir]))
    assert result["failed"] is True and result["msg"] == (
        "upgrade plugin alpha (host, compute1) failed: upgrade script failed (rc=7):"
        " line 16\nline 17\nline 18\nline 19\nline 20")


def test_the_failure_text_keeps_what_failed_and_how_it_ended():
    # The command plugin's message has rc and stderr already: nothing is repeated.
    said = "command 'false': non-zero return code (rc=2): no space"
    assert upgrade_plugins.failure_text({"msg": said, "rc": 2, "stderr": "no space\n"}) == said
    assert upgrade_plugins.failure_text({"msg": "broke", "rc": 0}) == "broke"
    assert upgrade_plugins.failure_text({}) == "failed"
    long = upgrade_plugins.failure_text({"msg": "apt-get failed", "rc": 100, "stderr": "x" * 2000 + "\nE: disk full"})
    assert len(long) == upgrade_plugins.FAILURE_TEXT_LENGTH
    assert long.startswith("apt-get failed (rc=100): xxx") and " ... " in long and long.endswith("xxx\nE: disk full")


def test_a_plugin_bug_fails_the_plugin_and_is_recorded(tmp_path, plugin_dir):
    location = str(tmp_path / "journal.sqlite")
    journal = make_journal(location, [{"plugin": "alpha", "type": "pre", "metadata": {"raise_": "bug"}}])
    result = result_of(dict(session_id=SESSION, journal=location, type="pre", plugin_dirs=[plugin_dir]))
    assert result["failed"] is True and "KeyError" in result["msg"]
    assert states(journal) == [("alpha", "pre", None, "FAILED")]


def test_a_returned_failure_or_a_non_dict_fails_the_plugin(tmp_path, plugin_dir):
    location = str(tmp_path / "journal.sqlite")
    make_journal(location, [])
    result = result_of(dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[plugin_dir],
                            actions=[{"plugin": "alpha", "metadata": {"returns": {"failed": True, "msg": "no"}}}]))
    assert result["failed"] is True and result["msg"].endswith("failed: no")
    result = result_of(dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[plugin_dir],
                            actions=[{"plugin": "beta", "metadata": {"returns": "yes"}}]))
    assert result["failed"] is True and "instead of a result dict" in result["msg"]


def test_done_plugins_are_skipped_when_resumed_and_the_failed_one_runs_again(location, plugin_dir):
    actions = [{"plugin": "alpha", "type": "host"},
               {"plugin": "beta", "type": "host", "metadata": {"raise_": "plugin_error"}},
               {"plugin": "gamma", "type": "host"}]
    journal = make_journal(location, actions)
    args = dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[plugin_dir])
    run_action(args)

    # The operator fixed beta's problem: the override list stands for the session's corrected actions.
    fixed = [dict(action, metadata={}) for action in actions]
    result, seen = run_action(dict(args, actions=fixed))
    assert not result.get("failed"), result["msg"]
    assert [call[0] for call in seen["calls"]] == ["beta", "gamma"]
    assert [(r["plugin"], r["state"]) for r in result["runs"]] == [("alpha", "SKIPPED"), ("beta", "DONE"), ("gamma", "DONE")]
    skipped = result["runs"][0]
    assert skipped["result"] == {"changed": True, "msg": "alpha ran"} and skipped["run_id"] == journal.action_runs(SESSION)[0].run_id
    assert "skipped (done before): alpha" in result["msg"]

    # Done for compute1 is not done for compute2.
    result, seen = run_action(dict(args, actions=fixed), task_vars={"inventory_hostname": "compute2"})
    assert [call[0] for call in seen["calls"]] == ["alpha", "beta", "gamma"]

    result, seen = run_action(dict(args, actions=fixed))
    assert seen["calls"] == [] and result["changed"] is False
    assert [r["state"] for r in result["runs"]] == ["SKIPPED"] * 3

    result, seen = run_action(dict(args, actions=fixed, rerun=True))
    assert [call[0] for call in seen["calls"]] == ["alpha", "beta", "gamma"]
    assert len(journal.action_runs(SESSION)) == 2 + 2 + 3 + 3


def test_a_plugin_listed_twice_needs_two_done_runs(tmp_path, plugin_dir):
    location = str(tmp_path / "journal.sqlite")
    journal = make_journal(location, [{"plugin": "alpha", "type": "host", "metadata": {"step": 1}},
                                      {"plugin": "alpha", "type": "host", "metadata": {"step": 2}}])
    args = dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[plugin_dir])
    journal.finish_action(journal.start_action(SESSION, "alpha", "host", "compute1"), True, {"changed": True})
    result, seen = run_action(args)
    assert [r["state"] for r in result["runs"]] == ["SKIPPED", "DONE"]
    assert seen["calls"] == [("alpha", {"step": 2}, "compute1", False)]


def test_check_mode_runs_plugins_in_check_mode_and_writes_nothing(location, plugin_dir):
    journal = make_journal(location, HOST_ACTIONS)
    journal.finish_action(journal.start_action(SESSION, "alpha", "host", "compute1"), True, {"changed": True})
    before = (states(journal), len(journal.events(SESSION)))

    result, seen = run_action(dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[plugin_dir]),
                              check_mode=True)
    assert not result.get("failed"), result["msg"]
    assert seen["calls"] == [("beta", {"n": 2}, "compute1", True), ("gamma", {"n": 3}, "compute1", True)]
    assert [(r["plugin"], r["state"], r["run_id"] is None) for r in result["runs"]] == [
        ("alpha", "SKIPPED", False), ("beta", "DONE", True), ("gamma", "DONE", True)]
    assert result["msg"].startswith("checked beta, gamma")
    assert (states(journal), len(journal.events(SESSION))) == before


def test_every_plugin_is_found_before_any_runs(tmp_path, plugin_dir):
    location = str(tmp_path / "journal.sqlite")
    journal = make_journal(location, [{"plugin": "alpha", "type": "host"}, {"plugin": "zeta", "type": "host"},
                                      {"plugin": "command", "type": "host", "metadata": {"cmd": "true", "cmdd": 1}}])
    result, seen = run_action(dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[plugin_dir]))
    assert result["failed"] is True and not seen.get("calls") and states(journal) == []
    assert result["msg"].startswith("nothing was run: ")
    assert ("upgrade plugin zeta not found: looked for ansible_collections.fenix.maintenance.plugins.sub_plugins.upgrade.zeta, "
            "%s/zeta.py" % plugin_dir) in result["msg"]
    assert "upgrade plugin command: metadata: unknown key(s) cmdd" in result["msg"]


def test_a_host_outside_the_session_is_refused(tmp_path, plugin_dir):
    location = str(tmp_path / "journal.sqlite")
    journal = make_journal(location, [{"plugin": "alpha", "type": "compute"}])
    result, seen = run_action(dict(session_id=SESSION, journal=location, type="compute", plugin_dirs=[plugin_dir]),
                              task_vars={"inventory_hostname": "compute1.example.net"})
    assert result["failed"] is True and not seen.get("calls") and states(journal) == []
    assert "host: compute1.example.net is not a host of session chg-1 (its hosts: compute1, compute2)" in result["msg"]
    # Given explicitly, the host is the one recorded.
    result, seen = run_action(dict(session_id=SESSION, journal=location, type="compute", host="compute2",
                                   plugin_dirs=[plugin_dir]), task_vars={"inventory_hostname": "compute1.example.net"})
    assert seen["calls"][0][2] == "compute2" and states(journal) == [("alpha", "compute", "compute2", "DONE")]


def test_missing_journal_session_and_bad_options_are_named(tmp_path):
    location = str(tmp_path / "journal.sqlite")
    result = result_of(dict(session_id=SESSION, journal=location, type="host"))
    assert result["failed"] is True and result["msg"].startswith("journal: there is no journal at %s" % location)
    assert not (tmp_path / "journal.sqlite").exists()

    make_journal(location, [])
    result = result_of(dict(session_id="other", journal=location, type="host"))
    assert result["failed"] is True and result["msg"].startswith("session_id: session other is not in the journal")

    result = result_of(dict(session_id=SESSION, journal=location, type="hosts"))
    assert result["failed"] is True and "type" in result["msg"] and "hosts" in result["msg"]

    result = result_of(dict(session_id=SESSION, journal=location, type="host", actions=[{"metadata": {}}]))
    assert result["failed"] is True and result["msg"] == "actions[0].plugin: missing; name the upgrade plugin to run"

    result = result_of(dict(session_id=SESSION, journal=location, type="host", actions=[{"plugin": "dummy", "metadata": "x"}]))
    assert result["failed"] is True and result["msg"] == "actions[0].metadata: 'x' is not a dict"


def test_connection_options_from_module_defaults_are_accepted(tmp_path):
    location = str(tmp_path / "journal.sqlite")
    make_journal(location, [{"plugin": "dummy", "type": "host", "metadata": {"changed": True}}])
    result = result_of(dict(session_id=SESSION, journal=location, type="host", cloud="fenix-admin", interface="admin"))
    assert not result.get("failed"), result["msg"]
    assert result["runs"][0]["result"]["msg"] == "dummy ran on compute1" and result["changed"] is True


# Name resolution

def test_names_resolve_to_this_collection_another_collection_or_a_directory(plugin_dir, tmp_path):
    assert load_plugin("dummy", []).plugin_class is dummy.UpgradePlugin
    assert load_plugin("fenix.maintenance.command", []).plugin_class is command.UpgradePlugin
    loaded = load_plugin("alpha", [str(tmp_path / "nothing"), plugin_dir])
    assert loaded.source == plugin_dir + "/alpha.py" and callable(loaded.plugin_class(None, {}).run)

    with pytest.raises(PluginNotFound, match=r"nope\.coll\.x not found: looked for "
                                             r"ansible_collections\.nope\.coll\.plugins\.sub_plugins\.upgrade\.x"):
        load_plugin("nope.coll.x", [plugin_dir])
    for bad in ("../alpha", "a.b", "a.b.c.d", "", "al-pha"):
        with pytest.raises(PluginNotFound, match="is not an upgrade plugin name"):
            load_plugin(bad, [plugin_dir])


def test_a_file_without_the_class_or_that_cannot_import_is_reported(tmp_path):
    (tmp_path / "noclass.py").write_text("def run():\n    pass\n")
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(PluginNotFound, match="noclass.py has no class UpgradePlugin"):
        load_plugin("noclass", [str(tmp_path)])
    with pytest.raises(PluginNotFound, match="broken.py.*cannot be loaded: ModuleNotFoundError"):
        load_plugin("broken", [str(tmp_path)])


def test_a_same_named_file_in_plugin_dirs_is_hidden_with_a_warning(tmp_path):
    (tmp_path / "dummy.py").write_text("class UpgradePlugin:\n    def run(self, m, h, c):\n        return {}\n")
    location = str(tmp_path / "journal.sqlite")
    make_journal(location, [{"plugin": "dummy", "type": "host"}])
    with mock.patch.object(upgrade_plugins.display, "warning") as warning:
        result = result_of(dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[str(tmp_path)]))
    assert result["runs"][0]["result"]["msg"] == "dummy ran on compute1"
    assert "is hidden by this collection's plugin dummy" in warning.call_args[0][0]


# The shipped plugins, with what they run on the host recorded

class FakeAction:
    """Stands for the action plugin: records the modules and action plugins run on the host."""

    def __init__(self, answer=None):
        self.calls = []
        self.answer = answer or {"changed": True, "rc": 0, "stdout": "ok", "stderr": ""}

    def execute_module(self, name, args, task_vars):
        self.calls.append(("module", name, args))
        return dict(self.answer)

    def execute_action(self, name, args, task_vars):
        self.calls.append(("action", name, args))
        return dict(self.answer)


def test_command_runs_on_the_host_and_fails_with_rc_and_stderr():
    action = FakeAction()
    plugin = command.UpgradePlugin(action, {})
    result = plugin.run({"cmd": "apt-get check", "creates": "/x"}, "compute1", False)
    assert action.calls == [("module", "ansible.builtin.command", {"cmd": "apt-get check", "creates": "/x"})]
    assert result["changed"] is True and result["rc"] == 0 and result["msg"] == "ran apt-get check"

    plugin.run({"argv": ["echo", "a b"]}, "compute1", False)
    assert action.calls[-1][2] == {"argv": ["echo", "a b"]}

    failing = command.UpgradePlugin(FakeAction({"failed": True, "rc": 2, "msg": "non-zero return code", "stderr": "no space\n"}), {})
    with pytest.raises(UpgradePluginError) as raised:
        failing.run({"cmd": "false"}, "compute1", False)
    assert raised.value.msg == "command 'false': non-zero return code (rc=2): no space"
    assert raised.value.details == {"rc": 2, "stderr": "no space\n"}

    for bad in ({}, {"cmd": "a", "argv": ["a"]}, {"argv": []}, {"cmd": " "}, {"cmd": "a", "shell": True}):
        with pytest.raises(UpgradePluginError):
            plugin.validate(bad)


def test_command_in_check_mode_says_what_it_would_run():
    plugin = command.UpgradePlugin(FakeAction({"changed": False, "skipped": True, "rc": 0,
                                               "msg": "Command would have run if not in check mode"}), {})
    assert plugin.run({"cmd": "reboot-now"}, "compute1", True)["msg"] == "would run reboot-now"


def test_reboot_does_nothing_in_check_mode_and_passes_its_options():
    action = FakeAction({"changed": True, "rebooted": True, "elapsed": 42})
    plugin = reboot.UpgradePlugin(action, {})
    assert plugin.run({"reboot_timeout": 900}, "compute1", True) == {
        "changed": True, "rebooted": False, "msg": "would reboot compute1"}
    assert action.calls == []

    result = plugin.run({"reboot_timeout": 900}, "compute1", False)
    assert action.calls == [("action", "ansible.builtin.reboot", {"reboot_timeout": 900})]
    assert result["rebooted"] is True and result["elapsed"] == 42
    with pytest.raises(UpgradePluginError, match="unknown key.*timeout"):
        plugin.validate({"timeout": 5})

    refused = reboot.UpgradePlugin(FakeAction({"failed": True, "msg": "would reboot the control node."}), {})
    with pytest.raises(UpgradePluginError, match="reboot of compute1: would reboot the control node"):
        refused.run({}, "compute1", False)


def test_package_upgrade_asks_for_latest_of_all_by_default():
    action = FakeAction({"changed": True, "stdout": "Inst libc6"})
    plugin = package_upgrade.UpgradePlugin(action, {})
    result = plugin.run({}, "compute1", True)
    assert action.calls == [("action", "ansible.builtin.package", {"name": ["*"], "state": "latest", "use": "auto"})]
    assert result == {"changed": True, "msg": "would upgrade *", "names": ["*"], "stdout": "Inst libc6"}

    plugin.run({"names": ["nova-compute", "libvirt-daemon"], "update_cache": True, "manager": "apt"}, "compute1", False)
    assert action.calls[-1][2] == {"name": ["nova-compute", "libvirt-daemon"], "state": "latest", "use": "apt", "update_cache": True}
    for bad in ({"names": []}, {"names": 3}, {"update_cache": "yes"}, {"name": "x"}):
        with pytest.raises(UpgradePluginError):
            plugin.validate(bad)


def test_dummy_reports_its_metadata_and_can_fail():
    plugin = dummy.UpgradePlugin(None, {})
    with mock.patch.object(dummy.time, "sleep") as sleep:
        result = plugin.run({"seconds": 2, "changed": True}, "compute1", False)
        assert sleep.call_args == mock.call(2)
        plugin.run({"seconds": 2}, None, True)
        assert sleep.call_count == 1
    assert result == {"changed": True, "msg": "dummy ran on compute1", "slept": 2, "metadata": {"seconds": 2, "changed": True}}
    with pytest.raises(UpgradePluginError, match="^rehearsed$"):
        plugin.run({"fail": "rehearsed"}, None, False)
    with pytest.raises(UpgradePluginError, match="metadata.seconds"):
        plugin.validate({"seconds": -1})


def test_execute_action_runs_the_named_action_plugin_with_a_copy_of_the_task():
    task = mock.MagicMock()
    task.args = {"session_id": SESSION}
    copy = SimpleNamespace(args={"session_id": SESSION})
    task.copy.return_value = copy
    shared = mock.MagicMock()
    shared.action_loader.get.return_value.run.return_value = {"changed": True}
    action = ActionModule(task, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), shared)
    action._shared_loader_obj = shared  # ansible-core 2.19 keeps its own loaders whatever it is given

    assert action.execute_action("ansible.builtin.reboot", {"reboot_timeout": 5}, {"x": 1}) == {"changed": True}
    assert shared.action_loader.get.call_args[0] == ("ansible.builtin.reboot",)
    assert shared.action_loader.get.call_args[1]["task"] is copy and copy.args == {"reboot_timeout": 5}
    assert task.args == {"session_id": SESSION}
    assert shared.action_loader.get.return_value.run.call_args == mock.call(task_vars={"x": 1})


# The task's options come from the doc-only module's DOCUMENTATION

def documented_options():
    """The options ansible-doc shows for the module, its doc fragments included."""
    collections = next(path for path in sys.path  # tests/unit/conftest.py puts it there
                       if os.path.isdir(os.path.join(path, "ansible_collections", "fenix", "maintenance")))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections)
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    done = subprocess.run([ansible_doc, "-j", "fenix.maintenance.upgrade_plugins"], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["fenix.maintenance.upgrade_plugins"]["doc"]["options"]


def test_the_argument_spec_is_what_the_documentation_says():
    def sorted_or_none(values):
        return sorted(values) if values else None

    documented = documented_options()
    spec = upgrade_plugins.ARGUMENT_SPEC
    assert sorted(spec) == sorted(documented)
    for name, doc in documented.items():
        option = spec[name]
        assert (option.get("type", "str"), option.get("elements"), bool(option.get("required")), option.get("default"),
                sorted_or_none(option.get("choices")), sorted_or_none(option.get("aliases"))) == (
            doc.get("type", "str"), doc.get("elements"), bool(doc.get("required")), doc.get("default"),
            sorted_or_none(doc.get("choices")), sorted_or_none(doc.get("aliases"))), name
    # The action types are the vocabulary's, in its order.
    assert spec["type"]["choices"] == list(PLUGIN_TYPES)


def test_bad_options_fail_naming_the_option_and_good_ones_are_coerced(tmp_path, plugin_dir):
    location = str(tmp_path / "journal.sqlite")
    make_journal(location, [{"plugin": "alpha", "type": "host"}])
    args = dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[plugin_dir])

    result = result_of(dict(args, rerun="perhaps"))
    assert result["failed"] is True and "argument 'rerun' is of type str and we were unable to convert to bool" in result["msg"]
    result = result_of(dict(args, plugin_dir=[plugin_dir]))
    assert result["failed"] is True
    assert "module: plugin_dir. Supported parameters include: actions," in result["msg"]
    result = result_of(dict(type="host", journal=location))
    assert result["failed"] is True and result["msg"] == "missing required arguments: session_id"

    journal = Journal(location)
    journal.finish_action(journal.start_action(SESSION, "alpha", "host", "compute1"), True, {"changed": True})
    result, seen = run_action(dict(args, rerun="yes"))
    assert not result.get("failed"), result["msg"]
    assert [call[0] for call in seen["calls"]] == ["alpha"] and result["runs"][0]["state"] == "DONE"


# Metadata of plugins that document their options

DOCUMENTED = textwrap.dedent('''
    DOCUMENTATION = """
    name: documented
    short_description: Records its metadata
    description: A third-party plugin that documents its options.
    options:
      count:
        description: How many.
        type: int
        required: true
      mode:
        description: Which way.
        type: str
        choices: [fast, slow]
        default: slow
    """

    from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import UpgradePluginBase


    class UpgradePlugin(UpgradePluginBase):
        def run(self, metadata, host, check_mode):
            self.task_vars.setdefault("calls", []).append(("documented", metadata, self.options(metadata)))
            return {"changed": False, "msg": "documented ran"}
''')


def test_documented_metadata_is_coerced_before_the_plugin_sees_it(tmp_path, plugin_dir):
    (tmp_path / "upgrade_plugins" / "documented.py").write_text(DOCUMENTED)
    location = str(tmp_path / "journal.sqlite")
    make_journal(location, [{"plugin": "documented", "type": "host", "metadata": {"count": "3"}},
                            {"plugin": "dummy", "type": "host", "metadata": {"seconds": "0", "changed": "yes"}}])
    result, seen = run_action(dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[plugin_dir]))
    assert not result.get("failed"), result["msg"]
    assert seen["calls"] == [("documented", {"count": 3}, {"count": 3, "mode": "slow"})]
    assert result["runs"][1]["result"]["metadata"] == {"seconds": 0.0, "changed": True}
    assert result["changed"] is True


def test_bad_documented_metadata_fails_naming_the_action_and_option_before_any_plugin_runs(tmp_path, plugin_dir):
    (tmp_path / "upgrade_plugins" / "documented.py").write_text(DOCUMENTED)
    location = str(tmp_path / "journal.sqlite")
    journal = make_journal(location, [
        {"plugin": "alpha", "type": "host"},
        {"plugin": "documented", "type": "host", "metadata": {"mode": "quick"}},
        {"plugin": "package_upgrade", "type": "host", "metadata": {"update_cache": "maybe", "name": "x"}},
        {"plugin": "dummy", "type": "host", "metadata": {"seconds": -1}},
    ])
    result, seen = run_action(dict(session_id=SESSION, journal=location, type="host", plugin_dirs=[plugin_dir]))
    assert result["failed"] is True and not seen.get("calls") and states(journal) == []
    problems = result["msg"]
    assert problems.startswith("nothing was run: ")
    assert ("upgrade plugin documented: session actions[1].metadata.count: required; this plugin needs it;"
            " session actions[1].metadata.mode: value of mode must be one of: fast, slow, got: quick") in problems
    assert ("upgrade plugin package_upgrade: metadata: unknown key(s) name (session actions[2].metadata.name);"
            " this plugin takes manager, names, update_cache;"
            " session actions[2].metadata.update_cache: argument 'update_cache' is of type str") in problems
    assert "upgrade plugin dummy: metadata.seconds: -1.0 is not a number of seconds >= 0" in problems

    # An override list names its own positions.
    result = result_of(dict(session_id=SESSION, journal=location, type="host",
                            actions=[{"plugin": "dummy", "metadata": {"changed": "maybe"}}]))
    assert result["failed"] is True and "upgrade plugin dummy: actions[0].metadata.changed: argument 'changed'" in result["msg"]
