# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Processes of this machine as /proc shows them: alive or not, their command line, parent and start time.

One place for what the API service (its gunicorn, the runs it launched) and
the session lease (the ansible-playbook run that holds it) ask of a process.
A pid alone may be reused once its process has ended; a pid with its start
time (clock ticks after boot, /proc/<pid>/stat) names one process for good.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import List, Optional


@dataclass(frozen=True)
class ProcessStat:
    """The fields of /proc/<pid>/stat a caller needs."""
    pid: int
    state: str  # R, S, D, Z (ended, not yet reaped by its parent), ...
    ppid: int
    started: int  # clock ticks after boot

    @property
    def ended(self) -> bool:
        return self.state in ("Z", "X")


def process_stat(pid: int) -> Optional[ProcessStat]:
    """The process's stat, or None when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces and ')': the fields after the last ')' are
    # state (3), ppid (4), ... starttime (22).
    fields = text.rsplit(")", 1)[1].split()
    return ProcessStat(pid=pid, state=fields[0], ppid=int(fields[1]), started=int(fields[19]))


def command_line(pid: int) -> List[str]:
    """The process's arguments (empty for a kernel thread, a zombie, or no such process)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            raw = handle.read()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0")[:-1]] if raw else []


def runs(pid: int, started: int) -> bool:
    """Whether the process that started at ``started`` still runs as ``pid`` (not ended, not a reused pid)."""
    stat = process_stat(pid)
    return stat is not None and not stat.ended and stat.started == started


def alive(pid: Optional[int]) -> bool:
    """Whether a process ``pid`` exists (one of ours that exited is reaped first, so it does not count)."""
    if not pid:
        return False
    try:
        # Reap it if it is our own child that exited.
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_pid(pid: int, timeout: float) -> None:
    """SIGTERM (gunicorn finishes requests in flight), SIGKILL if it does not go."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
