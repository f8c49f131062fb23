# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Runs a maintenance session's upgrade plugins of one type, recording each run in the journal.

The action plugin runs on the controller, where the journal is; the upgrade
plugins act on the task's host through the task's connection (modules and
action plugins run by them go there), so host-type plugins run on the compute
host itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.fenix.maintenance.plugins.module_utils.base import journal_argument_spec
from ansible_collections.fenix.maintenance.plugins.module_utils.clock import utc_now
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.connection import openstack_full_argument_spec
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.location import (
    journal_exists,
    journal_path,
    open_journal,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    ActionRun,
    JournalError,
    SessionNotFound,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import PLUGIN_TYPES
from ansible_collections.fenix.maintenance.plugins.modules.upgrade_plugins import DOCUMENTATION
from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import (
    PluginNotFound,
    UpgradePluginError,
    argument_spec,
    check_metadata,
    load_plugin,
    plugin_documentation,
    shadowed_in,
)

display = Display()

# Types that run per host (default host: inventory_hostname); pre and post run
# once per session, on the controller.
HOST_TYPES = ("host", "compute", "check", "controller")
# Host types whose host must be one of the session's hosts (compute hosts by
# Nova's name). Controllers are not session hosts, so they are not checked.
SESSION_HOST_TYPES = ("host", "compute", "check")

# A failure message keeps the last lines of the plugin's output and at most this many characters.
OUTPUT_TAIL_LINES = 5
FAILURE_TEXT_LENGTH = 600

# The task's options are the doc-only module's (its DOCUMENTATION is their one
# source) and those of its doc fragments, which document the connection and
# journal options every module takes.
ARGUMENT_SPEC = openstack_full_argument_spec(**argument_spec(DOCUMENTATION), **journal_argument_spec())


@dataclass
class PlannedAction:
    plugin: str
    action_type: str
    metadata: Dict[str, Any]
    origin: str  # where the task gave it, e.g. "session actions[2]", for messages
    instance: Any = None  # the loaded UpgradePlugin object
    done_run: Optional[ActionRun] = None  # an earlier DONE run of it, when it is skipped


@dataclass
class RunReport:
    plugin: str
    type: str
    host: Optional[str]
    state: str  # DONE, FAILED or SKIPPED
    started_at: str
    ended_at: Optional[str]
    result: Dict[str, Any] = field(default_factory=dict)
    run_id: Optional[int] = None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        try:
            result.update(self._run_type(task_vars))
        except AnsibleActionFail as exc:
            result.update(failed=True, msg=exc.message)
        except JournalError as exc:
            result.update(failed=True, msg="journal: %s" % exc)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    # What the upgrade plugins call (through UpgradePluginBase.run_module / run_action).
    def execute_module(self, name: str, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """Run a module on the task's host through the task's connection."""
        return self._execute_module(module_name=name, module_args=dict(args), task_vars=task_vars)

    def execute_action(self, name: str, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """Run an action plugin (e.g. ansible.builtin.reboot) as a task of its own with ``args``."""
        task = self._task.copy()
        task.args = dict(args)
        action = self._shared_loader_obj.action_loader.get(
            name, task=task, connection=self._connection, play_context=self._play_context,
            loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
        if action is None:
            raise UpgradePluginError("action plugin %s not found" % name)
        return action.run(task_vars=task_vars)

    def _run_type(self, task_vars: Dict[str, Any]) -> Dict[str, Any]:
        args = self._validated_args()
        action_type = args["type"]
        host = args["host"] or (task_vars.get("inventory_hostname") if action_type in HOST_TYPES else None)
        check_mode = bool(self._task.check_mode)
        self._warn_if_pre_post_remote(action_type)

        journal = self._journal(args["journal"])
        try:
            session = self._session(journal, args["session_id"])
            given = args["actions"] if args["actions"] is not None else session.request.get("actions") or []
            planned = actions_of_type(given, action_type, "actions" if args["actions"] is not None else "session actions")
            base = dict(session_id=args["session_id"], type=action_type, host=host, journal=journal.path,
                        changed=False, runs=[], not_run=[])
            if not planned:
                return dict(base, msg="session %s has no %s actions" % (args["session_id"], action_type))
            if action_type in SESSION_HOST_TYPES:
                check_session_host(journal, args["session_id"], host)
            plugin_dirs = [self._loader.path_dwim(directory) for directory in args["plugin_dirs"]]
            self._load(planned, plugin_dirs, task_vars)
            if not args["rerun"]:
                mark_done(planned, journal.action_runs(args["session_id"]), action_type, host)
            return dict(base, **self._run_planned(journal, args["session_id"], planned, host, check_mode))
        finally:
            journal.close()

    def _validated_args(self) -> Dict[str, Any]:
        # The OpenStack options are accepted (and ignored) so that module_defaults
        # of the action group, which set cloud for every member, apply here too.
        return self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]

    def _warn_if_pre_post_remote(self, action_type: str) -> None:
        if action_type not in HOST_TYPES and getattr(self._connection, "transport", "local") != "local":
            display.warning("upgrade_plugins: %s actions are meant for the controller, but this task's connection is %s;"
                            " run them in a play on localhost or with delegate_to: localhost"
                            % (action_type, self._connection.transport))

    @staticmethod
    def _journal(location: Optional[str]) -> Journal:
        path = journal_path(location)
        if not journal_exists(path):
            # Opening would create an empty journal, which cannot hold the session.
            raise AnsibleActionFail("journal: there is no journal at %s; give the journal the session was created in"
                                    " (option journal or FENIX_JOURNAL)" % path)
        try:
            return open_journal(path)
        except JournalError as exc:
            raise AnsibleActionFail("journal: %s" % exc) from exc

    @staticmethod
    def _session(journal: Journal, session_id: str):
        try:
            return journal.session(session_id)
        except SessionNotFound as exc:
            raise AnsibleActionFail("session_id: %s; create it first with fenix.maintenance.maintenance_session" % exc) from exc

    def _load(self, planned: List[PlannedAction], plugin_dirs: List[str], task_vars: Dict[str, Any]) -> None:
        """Load every plugin of the type and check its metadata before the first one runs.

        A plugin that documents its options gets its metadata coerced to them.
        """
        problems = []
        for action in planned:
            try:
                loaded = load_plugin(action.plugin, plugin_dirs)
                action.instance = loaded.plugin_class(self, task_vars)
                documentation = plugin_documentation(loaded.plugin_class)
                if documentation is not None:
                    action.metadata = check_metadata(documentation, action.metadata, action.origin + ".metadata")
                validate = getattr(action.instance, "validate", None)
                if callable(validate):
                    validate(action.metadata)
            except PluginNotFound as exc:
                problems.append(str(exc))
                continue
            except UpgradePluginError as exc:
                problems.append("upgrade plugin %s: %s" % (action.plugin, exc.msg))
                continue
            for path in shadowed_in(loaded, plugin_dirs):
                display.warning("upgrade_plugins: %s is hidden by this collection's plugin %s; rename it to use it"
                                % (path, action.plugin))
        if problems:
            raise AnsibleActionFail("nothing was run: " + "; ".join(problems))

    def _run_planned(self, journal: Journal, session_id: str, planned: List[PlannedAction],
                     host: Optional[str], check_mode: bool) -> Dict[str, Any]:
        reports: List[RunReport] = []
        for index, action in enumerate(planned):
            if action.done_run is not None:
                reports.append(skipped_report(action.done_run))
                continue
            report = run_one(journal, session_id, action, host, check_mode)
            reports.append(report)
            if report.state == "FAILED":
                not_run = [later.plugin for later in planned[index + 1:]]
                return dict(
                    failed=True,
                    changed=any_changed(reports),
                    msg="upgrade plugin %s (%s, %s) failed: %s%s"
                        % (action.plugin, action.action_type, host or "controller", failure_text(report.result),
                           "; not run: " + ", ".join(not_run) if not_run else ""),
                    failed_plugin=action.plugin,
                    runs=[vars(r) for r in reports],
                    not_run=not_run,
                )
        done = [r.plugin for r in reports if r.state == "DONE"]
        skipped = [r.plugin for r in reports if r.state == "SKIPPED"]
        summary = "%s %s" % ("checked" if check_mode else "ran", ", ".join(done) or "nothing")
        if skipped:
            summary += "; skipped (done before): " + ", ".join(skipped)
        return dict(changed=any_changed(reports), msg=summary, runs=[vars(r) for r in reports], not_run=[])


def actions_of_type(actions: Any, action_type: str, where: str) -> List[PlannedAction]:
    """The actions of ``action_type``, in plugin-name order (Fenix's order; equal names keep theirs)."""
    if not isinstance(actions, list):
        raise AnsibleActionFail("%s: %r is not a list of {plugin, type, metadata}" % (where, actions))
    planned = []
    for index, action in enumerate(actions):
        if not isinstance(action, dict):
            raise AnsibleActionFail("%s[%d]: %r is not a dict {plugin, type, metadata}" % (where, index, action))
        # An override list may leave type out: it then is the task's type.
        kind = action.get("type") or (action_type if where == "actions" else None)
        if kind not in PLUGIN_TYPES:
            raise AnsibleActionFail("%s[%d].type: %r is not one of %s" % (where, index, kind, ", ".join(PLUGIN_TYPES)))
        if not action.get("plugin") or not isinstance(action["plugin"], str):
            raise AnsibleActionFail("%s[%d].plugin: missing; name the upgrade plugin to run" % (where, index))
        metadata = action.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise AnsibleActionFail("%s[%d].metadata: %r is not a dict" % (where, index, metadata))
        if kind == action_type:
            planned.append(PlannedAction(action["plugin"], kind, metadata, "%s[%d]" % (where, index)))
    return sorted(planned, key=lambda action: action.plugin)


def check_session_host(journal: Journal, session_id: str, host: Optional[str]) -> None:
    hosts = [record.host for record in journal.hosts(session_id)]
    if host not in hosts:
        raise AnsibleActionFail("host: %s is not a host of session %s (its hosts: %s); set host to the compute host's"
                                " name as Nova knows it" % (host, session_id, ", ".join(hosts) or "none"))


def mark_done(planned: List[PlannedAction], runs: List[ActionRun], action_type: str, host: Optional[str]) -> None:
    """Attach to each action an earlier DONE run of it for this host, so it is skipped.

    A plugin listed twice in a type needs two DONE runs: the n-th listing is
    done when at least n runs of that plugin are.
    """
    done: Dict[str, List[ActionRun]] = {}
    for run in runs:
        if run.state == "DONE" and run.type == action_type and run.host == host:
            done.setdefault(run.plugin, []).append(run)
    for action in planned:
        if done.get(action.plugin):
            action.done_run = done[action.plugin].pop(0)


def run_one(journal: Journal, session_id: str, action: PlannedAction, host: Optional[str], check_mode: bool) -> RunReport:
    """Run one plugin; the journal has its start before it runs and its end after (not in check mode)."""
    run_id = None if check_mode else journal.start_action(session_id, action.plugin, action.action_type, host)
    started_at = journal.action_run(run_id).started_at if run_id is not None else utc_now()
    display.vv("upgrade_plugins: running %s (%s) for %s" % (action.plugin, action.action_type, host or "controller"))
    ok, outcome = call_plugin(action, host, check_mode)
    if run_id is None:
        ended_at = utc_now()
    else:
        ended_at = journal.finish_action(run_id, ok, outcome).ended_at
    return RunReport(action.plugin, action.action_type, host, "DONE" if ok else "FAILED",
                     started_at, ended_at, outcome, run_id)


def call_plugin(action: PlannedAction, host: Optional[str], check_mode: bool):
    """(ok, result): the plugin's result, or its error as {msg, ...details}."""
    try:
        outcome = action.instance.run(dict(action.metadata), host, check_mode)
    except UpgradePluginError as exc:
        return False, plain(dict(exc.details, msg=exc.msg))
    except Exception as exc:  # a plugin's bug fails the plugin, it must not lose the journal record
        return False, {"msg": "%s: %s" % (type(exc).__name__, exc)}
    if not isinstance(outcome, dict):
        return False, {"msg": "returned %r instead of a result dict" % (outcome,)}
    outcome = plain(outcome)
    if outcome.get("failed"):
        return False, dict(outcome, msg=outcome.get("msg") or "failed")
    outcome.setdefault("changed", False)
    return True, outcome


def failure_text(result: Dict[str, Any]) -> str:
    """What a failed plugin said, with its exit code and the tail of its output when the message lacks them.

    This is what the session's failure reason and the failed host's reason
    show, so it is bounded: the start (what failed, rc) and the end (the last
    lines of output, where tools say why) are kept.
    """
    text = str(result.get("msg") or "failed")
    rc = result.get("rc")
    if rc not in (None, 0) and "rc=%s" % rc not in text:
        text = "%s (rc=%s)" % (text, rc)
    output = str(result.get("stderr") or "").strip() or str(result.get("stdout") or "").strip()
    tail = "\n".join(output.splitlines()[-OUTPUT_TAIL_LINES:])
    if tail and tail not in text:
        text = "%s: %s" % (text, tail)
    if len(text) > FAILURE_TEXT_LENGTH:
        head = FAILURE_TEXT_LENGTH // 3
        text = "%s ... %s" % (text[:head], text[-(FAILURE_TEXT_LENGTH - head - 5):])
    return text


def skipped_report(run: ActionRun) -> RunReport:
    return RunReport(run.plugin, run.type, run.host, "SKIPPED", run.started_at, run.ended_at, run.result, run.run_id)


def any_changed(reports: List[RunReport]) -> bool:
    return any(r.state != "SKIPPED" and r.result.get("changed") for r in reports)


def plain(value: Dict[str, Any]) -> Dict[str, Any]:
    """JSON-clean copy: results go to the journal and back to Ansible."""
    return json.loads(json.dumps(value, default=str))
