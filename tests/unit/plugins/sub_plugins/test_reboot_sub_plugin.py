"""The reboot upgrade plugin's real path: through ansible.builtin.reboot to the host's connection.

The upgrade_plugins action plugin, ansible-core's reboot action plugin and
the reboot upgrade plugin run as they do in a play; only the boundary is
faked: the connection to the compute host (which answers the commands run
on it and goes down when told to reboot), the modules run on the host
(setup, find) and the clock the reboot action waits with.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from unittest import mock

import pytest
from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import reboot as reboot_action

from ansible_collections.fenix.maintenance.plugins.action.upgrade_plugins import ActionModule
from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import UpgradePluginError
from ansible_collections.fenix.maintenance.plugins.sub_plugins.upgrade import reboot

BOOT_ID = "cat /proc/sys/kernel/random/boot_id"
REBOOT_COMMANDS = ("/sbin/shutdown -r", "/usr/sbin/reboot")
TEST_COMMANDS = ("whoami", "uptime")
FACTS = {"ansible_facts": {"ansible_distribution": "Ubuntu", "ansible_distribution_version": "24.04",
                           "ansible_os_family": "Debian"}}


class FakeHost:
    """The connection to a compute host: records each command; the reboot command takes it down.

    While it reboots, ``down_polls`` connection attempts fail, then it answers
    with a new boot ID (or never does, with ``comes_back=False``).
    """

    transport = "ssh"
    become = None
    allow_executable = False

    def __init__(self, down_polls=2, comes_back=True):
        self.commands = []
        self.options = {"connection_timeout": 10}
        self.options_set = []
        self.resets = 0
        self.boot = 1
        self.down_polls = down_polls
        self.comes_back = comes_back
        self.rebooting = False
        self._shell = SimpleNamespace(tmpdir=None)

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self.commands.append(cmd)
        if self.rebooting:
            if self.down_polls or not self.comes_back:
                self.down_polls -= 1
                raise AnsibleConnectionFailure("ssh: connect to host compute1 port 22: Connection refused")
            self.rebooting = False
            self.boot += 1
        if cmd.startswith(REBOOT_COMMANDS):
            self.rebooting = True
            return 0, b"", b""
        if cmd == BOOT_ID:
            return 0, b"boot-%d\n" % self.boot, b""
        if cmd in TEST_COMMANDS:
            return 0, b"ok\n", b""
        return 127, b"", b"sh: %s: not found" % cmd.encode()

    def get_option(self, name):
        return self.options[name]

    def set_option(self, name, value):
        self.options_set.append((name, value))
        self.options[name] = value

    def reset(self):
        self.resets += 1


class FakeTask(SimpleNamespace):
    def copy(self):
        return FakeTask(**vars(self))


class Clock:
    """The reboot action's clock: time passes only when it sleeps."""

    def __init__(self):
        self.now_at = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
        self.sleeps = []
        clock = self

        class FakeDatetime(datetime):
            @classmethod
            def now(cls, tz=None):
                return clock.now_at

        self.datetime = FakeDatetime

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now_at += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    clock = Clock()
    with mock.patch.object(reboot_action, "datetime", clock.datetime), \
            mock.patch.object(reboot_action.time, "sleep", clock.sleep):
        yield clock


@pytest.fixture
def modules():
    """The modules ansible.builtin.reboot runs on the host, recorded and answered."""
    calls = []

    def execute_module(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        calls.append((module_name, module_args))
        if module_name == "ansible.legacy.setup":
            return FACTS
        if module_name == "ansible.legacy.find":
            return {"files": [{"path": "/sbin/shutdown"}]}
        raise AssertionError("unexpected module %s" % module_name)

    with mock.patch.object(reboot_action.ActionModule, "_execute_module", execute_module):
        yield calls


def load_reboot_action(name, **kwargs):
    """ansible's action_loader.get for the one action plugin these tests run (no plugin loader set up here)."""
    assert name == "ansible.builtin.reboot"
    return reboot_action.ActionModule(**kwargs)


def reboot_plugin(host):
    task = FakeTask(args={"session_id": "chg-1", "type": "compute"}, action="fenix.maintenance.upgrade_plugins",
                    check_mode=False, async_val=0, diff=False)
    play_context = SimpleNamespace(remote_user="root", executable="/bin/sh")
    action = ActionModule(task, host, play_context, mock.MagicMock(), mock.MagicMock(), None)
    action._shared_loader_obj = SimpleNamespace(action_loader=SimpleNamespace(get=load_reboot_action))
    return reboot.UpgradePlugin(action, {"inventory_hostname": "compute1"})


def test_reboot_asks_for_the_reboot_and_waits_for_a_new_boot_id_then_the_test_command(clock, modules):
    host = FakeHost(down_polls=2)
    result = reboot_plugin(host).run({"reboot_timeout": 900, "post_reboot_delay": 30}, "compute1", False)

    assert modules == [("ansible.legacy.setup", {"gather_subset": "min"}),
                       ("ansible.legacy.find", {"paths": ["/sbin", "/bin", "/usr/sbin", "/usr/bin", "/usr/local/sbin"],
                                                "patterns": ["shutdown"], "file_type": "any"})]
    # The boot ID before, the reboot, two polls while the host is down, the new boot ID, the test command.
    assert host.commands == [BOOT_ID, '/sbin/shutdown -r 0 "Reboot initiated by Ansible"',
                             BOOT_ID, BOOT_ID, BOOT_ID, "whoami"]
    assert host.boot == 2
    # It waited the post-reboot delay, then backed off exponentially (2**n s plus under 1 s) between polls.
    assert clock.sleeps[0] == 30 and len(clock.sleeps) == 3
    assert 1 <= clock.sleeps[1] < 2 and 2 <= clock.sleeps[2] < 3
    assert host.resets == 2  # once per failed connection
    assert result == {"changed": True, "rebooted": True, "elapsed": int(sum(clock.sleeps)),
                      "msg": "rebooted compute1 in %ss" % int(sum(clock.sleeps))}


def test_reboot_passes_its_options_to_the_reboot_and_the_connection(clock, modules):
    host = FakeHost(down_polls=0)
    options = {"reboot_command": "/usr/sbin/reboot --force", "connect_timeout": "5", "test_command": "uptime"}
    result = reboot_plugin(host).run(options, "compute1", False)

    # An absolute reboot command is not searched for; the test command is the one given.
    assert modules == [("ansible.legacy.setup", {"gather_subset": "min"})]
    assert host.commands == [BOOT_ID, "/usr/sbin/reboot --force", BOOT_ID, "uptime"]
    # connect_timeout, coerced to an int, is the connection's while it waits, then the connection's own again.
    assert host.options_set == [("connection_timeout", 5), ("connection_timeout", 10)] and host.resets == 2
    assert clock.sleeps == [] and result["rebooted"] is True


def test_a_failed_reboot_command_fails_the_plugin_without_waiting(clock, modules):
    host = FakeHost()
    with pytest.raises(UpgradePluginError) as raised:
        reboot_plugin(host).run({"reboot_command": "/usr/local/sbin/no-such-reboot"}, "compute1", False)
    assert raised.value.msg == ("reboot of compute1: Reboot command failed. Error was: ', sh: /usr/local/sbin/no-such-reboot"
                                " : not found'")
    assert host.commands == [BOOT_ID, "/usr/local/sbin/no-such-reboot "] and clock.sleeps == []


def test_reboot_fails_with_the_timeout_when_the_host_does_not_come_back(clock, modules):
    host = FakeHost(comes_back=False)
    with pytest.raises(UpgradePluginError) as raised:
        reboot_plugin(host).run({"reboot_timeout": 60}, "compute1", False)

    assert raised.value.msg == "reboot of compute1: Timed out waiting for last boot time check (timeout=60)"
    assert host.commands[-1] == BOOT_ID and "whoami" not in host.commands
    # Backed off up to 12 s (plus under 1 s) a poll, and gave up once 60 s had passed.
    assert max(clock.sleeps) < 13 and 60 <= sum(clock.sleeps) < 60 + 13


def test_reboot_is_refused_on_a_local_connection(clock, modules):
    host = FakeHost()
    host.transport = "local"
    with pytest.raises(UpgradePluginError, match="^reboot of compute1: Running fenix.maintenance.upgrade_plugins with local"
                                                 " connection would reboot the control node.$"):
        reboot_plugin(host).run({}, "compute1", False)
    assert host.commands == [] and modules == []
