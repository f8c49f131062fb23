"""Bench callback: how long each task of the playbook took, written as JSON.

Enabled by the makespan bench (ANSIBLE_CALLBACKS_ENABLED=task_times); the file
is FENIX_BENCH_TASK_TIMES. A task's time runs from its start to the next
task's (or the end of the play), so it includes Ansible's own work between
tasks; the bench sums them per task name.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_times
type: aggregate
short_description: write each task's duration to a JSON file (bench only)
description: the makespan bench reads it to say where a run's time goes between the tasks.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._tasks: list = []
        self._current = None

    def _close(self) -> None:
        if self._current is not None:
            name, started = self._current
            self._tasks.append({"task": name, "start": started, "seconds": time.time() - started})
            self._current = None

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self._close()
        self._current = (task.get_name().strip(), time.time())

    def v2_playbook_on_play_start(self, play) -> None:
        self._close()
        self._current = ("(play) " + play.get_name().strip(), time.time())

    def v2_playbook_on_handler_task_start(self, task) -> None:
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_stats(self, stats) -> None:
        self._close()
        path = os.environ.get("FENIX_BENCH_TASK_TIMES")
        if path:
            with open(path, "w") as handle:
                json.dump(self._tasks, handle)
