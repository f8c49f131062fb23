# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Who runs a maintenance the API was asked for: ansible-runner on the API host, or an AWX job template.

The API only starts, finds and stops runs; the run itself is the collection's
rolling maintenance playbook for one session id, the same run an operator
starts by hand. What a launcher knows of its runs is kept on disk, one
directory per session under the runs directory, so a restarted service (or
another worker) finds them again:

- ``runner``: ``ansible-runner run`` in its own process session, its private
  data directory ``<runs>/<session_id>`` (artifacts, job events, status);
  ``launch.json`` there records the process and the attempt.
- ``controller``: ``POST /api/v2/job_templates/<id>/launch/`` with the session
  id as extra variable; ``launch.json`` records the job, whose status is read
  from the Controller.
- ``none``: the API records sessions and runs nothing (a run is started by hand).
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import utc_now
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError
from ansible_collections.fenix.maintenance.plugins.module_utils.processes import command_line, process_stat, runs

LAUNCHERS = ("runner", "controller", "none")
RUN_PLAYBOOK = "fenix.maintenance.rolling_maintenance"
SESSION_VARIABLE = "rolling_maintenance_session_id"
LAUNCH_RECORD = "launch.json"
# ansible-runner's own words for a run that ended (artifacts/<ident>/status).
ENDED = ("successful", "failed", "canceled", "timeout", "error")


class LaunchError(MaintenanceError):
    """A run could not be started, found or stopped; ``code`` is the HTTP status the API answers."""

    def __init__(self, message: str, code: int = 409) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class RunInfo:
    """A session's latest run, as the launcher sees it."""
    launcher: str
    ident: str
    started: str
    status: str  # starting, running, successful, failed, canceled, lost (ended without a status)
    alive: bool
    pid: Optional[int] = None
    artifacts: Optional[str] = None
    last_task: Optional[str] = None
    job_id: Optional[int] = None
    job_url: Optional[str] = None

    def as_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass
class LaunchSettings:
    """The service's launcher, from FENIX_API_LAUNCHER and its companions (see from_environment)."""
    kind: str = "runner"
    runs_dir: Optional[str] = None
    inventory: Optional[str] = None
    run_vars: Optional[str] = None
    controller_url: Optional[str] = None
    controller_job_template: Optional[str] = None
    controller_token: Optional[str] = None
    controller_validate_certs: bool = True
    # The template's name for the session id: a survey question of the shipped AWX configuration's
    # "resume" template (session_id), or rolling_maintenance_session_id for a template that prompts
    # for variables on the collection's playbook.
    controller_session_variable: str = "session_id"

    @classmethod
    def from_environment(cls, environ: Dict[str, str]) -> "LaunchSettings":
        values = {name: environ[variable] for name, variable in ENVIRONMENT.items() if environ.get(variable)}
        if "controller_validate_certs" in values:
            values["controller_validate_certs"] = values["controller_validate_certs"].lower() not in ("0", "false", "no")
        return cls(**values)

    def environment(self) -> Dict[str, str]:
        """The variables ``from_environment`` reads, for the service's process."""
        env = {variable: str(getattr(self, name)) for name, variable in ENVIRONMENT.items()
               if getattr(self, name) is not None}
        env["FENIX_API_CONTROLLER_VALIDATE_CERTS"] = "true" if self.controller_validate_certs else "false"
        return env

    def check(self) -> None:
        """Refuse settings that cannot work; the message names the module option and its variable."""
        if self.kind not in LAUNCHERS:
            raise ValueError("launcher.type (%s): %r is not one of %s"
                             % (ENVIRONMENT["kind"], self.kind, ", ".join(LAUNCHERS)))
        for name in ("inventory", "run_vars"):
            path = getattr(self, name)
            if path and not os.path.exists(path):
                raise ValueError("launcher.%s (%s): %s does not exist; give the file the runs should use"
                                 % (name, ENVIRONMENT[name], path))
        if self.kind == "controller":
            missing = ["launcher.%s (%s)" % (name, ENVIRONMENT[name])
                       for name in ("controller_url", "controller_job_template", "controller_token")
                       if not getattr(self, name)]
            if missing:
                raise ValueError("%s: missing; the controller launcher needs the Controller's URL, the id of the"
                                 " rolling maintenance job template and an OAuth2 token" % ", ".join(missing))


# LaunchSettings field -> the service's environment variable.
ENVIRONMENT = {
    "kind": "FENIX_API_LAUNCHER",
    "runs_dir": "FENIX_API_RUNS_DIR",
    "inventory": "FENIX_API_RUN_INVENTORY",
    "run_vars": "FENIX_API_RUN_VARS",
    "controller_url": "FENIX_API_CONTROLLER_URL",
    "controller_job_template": "FENIX_API_CONTROLLER_JOB_TEMPLATE",
    "controller_token": "FENIX_API_CONTROLLER_TOKEN",
    "controller_validate_certs": "FENIX_API_CONTROLLER_VALIDATE_CERTS",
    "controller_session_variable": "FENIX_API_CONTROLLER_SESSION_VARIABLE",
}


def default_runs_dir(journal_location: str) -> str:
    """Beside a SQLite journal; under the user's state directory for a PostgreSQL one."""
    if "://" in journal_location or journal_location.startswith(("postgres", "host=")):
        return os.path.join(os.path.expanduser("~"), ".local", "state", "fenix.maintenance", "runs")
    return os.path.join(os.path.dirname(os.path.abspath(journal_location)), "runs")


def read_run_vars(path: Optional[str]) -> dict:
    """The operator's role variables for every run (YAML or JSON mapping)."""
    if not path:
        return {}
    import yaml
    with open(path, encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle) or {}
    if not isinstance(loaded, dict):
        raise LaunchError("FENIX_API_RUN_VARS: %s holds %s, not a mapping of role variables"
                          % (path, type(loaded).__name__), 500)
    return loaded


class Launcher:
    """Starts, finds and stops the run of a session. The base runs nothing (``none``)."""
    kind = "none"

    def __init__(self, settings: LaunchSettings, runs_dir: str) -> None:
        self.settings = settings
        self.runs_dir = runs_dir

    def session_dir(self, session_id: str) -> str:
        return os.path.join(self.runs_dir, session_id)

    def record(self, session_id: str) -> Optional[dict]:
        try:
            with open(os.path.join(self.session_dir(session_id), LAUNCH_RECORD), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def write_record(self, session_id: str, record: dict) -> None:
        path = os.path.join(self.session_dir(session_id), LAUNCH_RECORD)
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(path + ".tmp", path)

    def start(self, session_id: str, variables: dict) -> Optional[RunInfo]:
        return None

    def find(self, session_id: str) -> Optional[RunInfo]:
        return None

    def stop(self, session_id: str, timeout: float = 60.0) -> Optional[RunInfo]:
        return None

    def refuse_second_run(self, session_id: str) -> None:
        running = self.find(session_id)
        if running is not None and running.alive:
            raise LaunchError("session %s: a run is going already (%s %s since %s, %s); wait for it, or DELETE the"
                              " session to stop it" % (session_id, running.launcher, running.ident, running.started,
                                                       running.status))


class RunnerLauncher(Launcher):
    """ansible-runner on the API host, one private data directory per session."""
    kind = "runner"

    def __init__(self, settings: LaunchSettings, runs_dir: str, python: str = sys.executable) -> None:
        super().__init__(settings, runs_dir)
        self.binary = os.path.join(os.path.dirname(python), "ansible-runner")
        self._reapers: List[threading.Thread] = []

    def start(self, session_id: str, variables: dict) -> RunInfo:
        self.refuse_second_run(session_id)
        if not os.path.exists(self.binary):
            raise LaunchError("the runner launcher needs ansible-runner next to %s (pip install ansible-runner)"
                              " or FENIX_API_LAUNCHER=none" % os.path.dirname(self.binary), 500)
        directory = self.session_dir(session_id)
        attempt = len(glob.glob(os.path.join(directory, "artifacts", "*"))) + 1
        ident = "%s-%d" % (session_id, attempt)
        self.prepare(directory, variables)
        command = [self.binary, "run", directory, "-p", RUN_PLAYBOOK, "--ident", ident,
                   "--inventory", self.inventory(directory, variables)]
        log = open(os.path.join(directory, "runner-%d.log" % attempt), "ab")
        try:
            # Its own process session: the run outlives the API worker that started it and a restart of the service.
            process = subprocess.Popen(command, cwd=directory, env=run_environment(), stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        self.reap(process)
        # The pid with its start time names the run for good. Its command line does not, yet: the kernel fills it
        # in after Popen has returned, and a busy machine showed the run as lost in that moment.
        stat = process_stat(process.pid)
        self.write_record(session_id, {"launcher": self.kind, "ident": ident, "pid": process.pid,
                                       "pid_started": stat.started if stat else None,
                                       "started": utc_now(), "command": command})
        return self.find(session_id)

    def prepare(self, directory: str, variables: dict) -> None:
        for part in ("env", "project", "inventory"):
            os.makedirs(os.path.join(directory, part), mode=0o700, exist_ok=True)
        with open(os.path.join(directory, "env", "extravars"), "w", encoding="utf-8") as handle:
            json.dump(variables, handle)

    def inventory(self, directory: str, variables: dict) -> str:
        """The operator's inventory, or the compute hosts of the session's cloud from Nova."""
        if self.settings.inventory:
            return os.path.abspath(self.settings.inventory)
        path = os.path.join(directory, "inventory", "fenix.compute_hosts.yml")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"plugin": "fenix.maintenance.compute_hosts", "cloud": variables.get("rolling_maintenance_cloud")},
                      handle)
        return path

    def reap(self, process: subprocess.Popen) -> None:
        # Waited for in a thread, so an ended run is no zombie of a long-lived worker.
        reaper = threading.Thread(target=process.wait, daemon=True)
        reaper.start()
        self._reapers.append(reaper)

    def find(self, session_id: str) -> Optional[RunInfo]:
        record = self.record(session_id)
        return None if record is None else self.run_of(session_id, record)

    def run_of(self, session_id: str, record: dict) -> RunInfo:
        """The run ``launch.json`` records, as it is now."""
        artifacts = os.path.join(self.session_dir(session_id), "artifacts", record["ident"])
        alive = self.runs(session_id, record["pid"], record.get("pid_started"))
        status = read_text(os.path.join(artifacts, "status"))
        if status is None:
            status = "starting" if alive else "lost"
        elif status not in ENDED and not alive:
            status = "lost"
        return RunInfo(launcher=self.kind, ident=record["ident"], started=record["started"], status=status,
                       alive=alive, pid=record["pid"], artifacts=artifacts, last_task=last_task(artifacts))

    def runs(self, session_id: str, pid: Optional[int], pid_started: Optional[int]) -> bool:
        if pid and pid_started is not None:
            return runs(pid, pid_started)
        return process_runs(pid, self.session_dir(session_id))  # a record written before pid_started

    def stop(self, session_id: str, timeout: float = 60.0) -> Optional[RunInfo]:
        """Cancel the run (ansible-runner ends its playbook on SIGTERM) and wait until it has ended."""
        record = self.record(session_id)
        if record is None:
            return None
        run = self.run_of(session_id, record)
        if not run.alive:
            return run
        pid_started = record.get("pid_started")
        signal_group(run.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.runs(session_id, run.pid, pid_started) and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.runs(session_id, run.pid, pid_started):
            signal_group(run.pid, signal.SIGKILL)
        return self.run_of(session_id, record)


def run_environment() -> Dict[str, str]:
    """The service's environment without its own settings: ansible-runner writes a run's environment
    into its artifacts, and the Controller's token is no business of the run."""
    return {name: value for name, value in os.environ.items() if not name.startswith("FENIX_API_")}


def signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(os.getpgid(pid), signum)
    except (OSError, ProcessLookupError):
        pass


def process_runs(pid: Optional[int], marker: str) -> bool:
    """Whether ``pid`` is alive and is our run (its command line names ``marker``), not a reused pid."""
    if not pid:
        return False
    stat = process_stat(pid)
    return stat is not None and not stat.ended and marker in "\0".join(command_line(pid))


def read_text(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def last_task(artifacts: str) -> Optional[str]:
    """The task of the newest job event (ansible-runner names them <counter>-<uuid>.json).

    An event still being completed is <uuid>-partial.json: it has no counter and is left out.
    """
    numbered = []
    for path in glob.glob(os.path.join(artifacts, "job_events", "*.json")):
        counter = os.path.basename(path).split("-", 1)[0]
        if counter.isdigit():
            numbered.append((int(counter), path))
    for _counter, path in sorted(numbered, reverse=True)[:20]:
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle).get("event_data", {})
        except (OSError, ValueError):
            continue  # being written
        if data.get("task"):
            return data["task"]
    return None


class ControllerLauncher(Launcher):
    """A job template of AWX / Automation Controller, launched with the session id as extra variable."""
    kind = "controller"

    def __init__(self, settings: LaunchSettings, runs_dir: str, http=None) -> None:
        super().__init__(settings, runs_dir)
        self.base = settings.controller_url.rstrip("/")
        self.http = http

    def request(self, method: str, path: str, body: Optional[dict] = None) -> dict:
        import urllib3
        http = self.http or urllib3.PoolManager(cert_reqs="CERT_REQUIRED" if self.settings.controller_validate_certs
                                                else "CERT_NONE")
        headers = {"Authorization": "Bearer %s" % self.settings.controller_token, "Content-Type": "application/json"}
        try:
            response = http.request(method, self.base + path, body=json.dumps(body or {}) if body is not None else None,
                                    headers=headers, timeout=30, retries=False)
        except urllib3.exceptions.HTTPError as exc:
            raise LaunchError("controller %s: %s %s failed: %s" % (self.base, method, path, exc), 502)
        text = response.data.decode("utf-8", "replace")
        if response.status >= 300:
            answer = (self.base, method, path, response.status, text[:500])
            raise LaunchError("controller %s: %s %s answered %d: %s" % answer, 502)
        return json.loads(text) if text else {}

    def start(self, session_id: str, variables: dict) -> RunInfo:
        self.refuse_second_run(session_id)
        template = self.settings.controller_job_template
        variable = self.settings.controller_session_variable
        # Checked before the launch: a job launched without its session would maintain what its survey's
        # defaults say (every host), not the session.
        if not self.takes_variable(template, variable):
            raise LaunchError(self.ignored_message(template, variable), 502)
        answer = self.request("POST", "/api/v2/job_templates/%s/launch/" % template,
                              {"extra_vars": {variable: session_id}})
        job_id = answer.get("job") or answer.get("id")
        if variable in (answer.get("ignored_fields") or {}).get("extra_vars", {}):
            self.request("POST", "/api/v2/jobs/%s/cancel/" % job_id, {})
            raise LaunchError(self.ignored_message(template, variable) + "; its job %s is canceled" % job_id, 502)
        os.makedirs(self.session_dir(session_id), mode=0o700, exist_ok=True)
        self.write_record(session_id, {"launcher": self.kind, "ident": "job-%s" % job_id, "job_id": job_id,
                                       "started": utc_now(), "job_url": self.base + "/api/v2/jobs/%s/" % job_id})
        return self.find(session_id)

    def takes_variable(self, template: str, variable: str) -> bool:
        """Whether a launch of the template keeps ``variable``: it prompts for variables, or its survey asks it."""
        settings = self.request("GET", "/api/v2/job_templates/%s/" % template)
        if settings.get("ask_variables_on_launch"):
            return True
        if not settings.get("survey_enabled"):
            return False
        survey = self.request("GET", "/api/v2/job_templates/%s/survey_spec/" % template)
        return variable in {question.get("variable") for question in survey.get("spec", [])}

    @staticmethod
    def ignored_message(template: str, variable: str) -> str:
        return ("controller job template %s ignores the session id in %s: give the variable its survey asks it with"
                " (launcher.controller_session_variable), or turn on its prompt for variables"
                " (ask_variables_on_launch)" % (template, variable))

    def find(self, session_id: str) -> Optional[RunInfo]:
        record = self.record(session_id)
        if record is None:
            return None
        job = self.request("GET", "/api/v2/jobs/%s/" % record["job_id"])
        status = job.get("status", "unknown")
        return RunInfo(launcher=self.kind, ident=record["ident"], started=record["started"], status=status,
                       alive=status in ("new", "pending", "waiting", "running"), job_id=record["job_id"],
                       job_url=record["job_url"])

    def stop(self, session_id: str, timeout: float = 60.0) -> Optional[RunInfo]:
        run = self.find(session_id)
        if run is None or not run.alive:
            return run
        self.request("POST", "/api/v2/jobs/%s/cancel/" % run.job_id, {})
        deadline = time.monotonic() + timeout
        while run.alive and time.monotonic() < deadline:
            time.sleep(1)
            run = self.find(session_id)
        return run


def make_launcher(settings: LaunchSettings, journal_location: str) -> Launcher:
    runs_dir = settings.runs_dir or default_runs_dir(journal_location)
    kinds = {"runner": RunnerLauncher, "controller": ControllerLauncher, "none": Launcher}
    return kinds[settings.kind](settings, runs_dir)
