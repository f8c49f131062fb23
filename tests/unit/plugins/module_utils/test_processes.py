"""processes.py: what /proc says of a process, on real processes started by the test."""

import os
import signal
import subprocess
import sys
import time

from ansible_collections.fenix.maintenance.plugins.module_utils.processes import (
    alive,
    command_line,
    process_stat,
    runs,
    stop_pid,
)


def test_a_running_process_its_stat_and_command_line():
    process = subprocess.Popen(["sleep", "60"])
    try:
        deadline = time.monotonic() + 10
        while command_line(process.pid) != ["sleep", "60"]:  # forked, not yet exec'd: the child's own is not there
            assert time.monotonic() < deadline, command_line(process.pid)
            time.sleep(0.01)
        stat = process_stat(process.pid)
        assert (stat.pid, stat.ppid, stat.state in ("R", "S"), stat.ended) == (process.pid, os.getpid(), True, False)
        assert stat.started >= process_stat(os.getpid()).started
        assert command_line(process.pid) == ["sleep", "60"]
        assert runs(process.pid, stat.started) and alive(process.pid)
        assert not runs(process.pid, stat.started + 1)  # another process that got the same pid
    finally:
        process.kill()
        process.wait()
    assert process_stat(process.pid) is None and command_line(process.pid) == []
    assert not runs(process.pid, stat.started) and not alive(process.pid)


def test_a_process_that_ended_but_is_not_reaped_does_not_run():
    process = subprocess.Popen(["sleep", "60"])
    started = process_stat(process.pid).started
    os.kill(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while process_stat(process.pid).state != "Z" and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert process_stat(process.pid).ended  # a zombie: its parent (this test) has not waited for it
        assert not runs(process.pid, started)
    finally:
        process.wait()


def test_a_command_name_with_spaces_and_parentheses_is_parsed():
    # /proc/<pid>/stat shows the command name in parentheses, and a process may name itself with both.
    script = ("import time; open('/proc/self/comm', 'w').write('odd) name (x'); print('ready', flush=True);"
              " time.sleep(60)")
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert process.stdout.readline() == b"ready\n"
        with open("/proc/%d/stat" % process.pid) as handle:
            assert handle.read().startswith("%d (odd) name (x) " % process.pid)
        stat = process_stat(process.pid)
        assert (stat.ppid, stat.ended) == (os.getpid(), False)
    finally:
        process.kill()
        process.wait()


def test_stop_pid_ends_a_process_that_ignores_sigterm():
    process = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM,"
                                " signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"],
                               stdout=subprocess.PIPE)
    assert process.stdout.readline() == b"ready\n"
    began = time.monotonic()
    stop_pid(process.pid, timeout=0.5)
    # Gone, and only after the timeout (SIGKILL): alive() reaped it, so Popen never sees its status.
    assert process_stat(process.pid) is None and not alive(process.pid)
    assert 0.5 <= time.monotonic() - began < 10
    stop_pid(process.pid, timeout=0.5)  # gone: nothing to do
