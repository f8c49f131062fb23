# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The maintenance API service as a background gunicorn process: start, find, stop.

This is the embedded way to run the API for one playbook run (and the way
tests and benchmarks run it). A state file in the run directory remembers the
process and the settings it was started with, so a second start with the same
settings finds it running and changes nothing.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import LaunchSettings
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError
from ansible_collections.fenix.maintenance.plugins.module_utils.processes import alive, stop_pid
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import API_START_FAILURE_MARK, DEFAULT_API_BIND

APP = "ansible_collections.fenix.maintenance.plugins.module_utils.api.app:create_app()"
# Seconds an idle client connection stays open (gunicorn's default is 2).
KEEP_ALIVE_SECONDS = 1
# What auth_mode keystone imports besides the API's own libraries (pip takes these names as they are).
KEYSTONE_MODULES = ("keystonemiddleware", "oslo_policy")


class ApiProcessError(MaintenanceError):
    pass


@dataclass
class ApiSettings:
    collections_path: str
    run_dir: str
    journal: str
    bind: str = DEFAULT_API_BIND
    auth: str = "keystone"
    cloud: Optional[str] = None
    clouds_yaml: Optional[str] = None
    workers: int = 2
    threads: int = 8
    token_ttl: int = 300
    policy_file: Optional[str] = None
    python: str = sys.executable
    launch: LaunchSettings = field(default_factory=LaunchSettings)
    extra_env: Dict[str, str] = field(default_factory=dict)
    token_cache: Optional[str] = None

    @property
    def url(self) -> str:
        return "http://%s/v1" % self.bind

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()

    @property
    def state_file(self) -> str:
        return os.path.join(self.run_dir, "api.json")

    @property
    def log_file(self) -> str:
        return os.path.join(self.run_dir, "api.log")

    def command(self) -> List[str]:
        return [
            self.python, "-m", "gunicorn",
            "--bind", self.bind,
            "--workers", str(self.workers),
            "--worker-class", "gthread",
            "--threads", str(self.threads),
            "--pythonpath", self.collections_path,
            "--access-logfile", self.log_file,
            "--error-logfile", self.log_file,
            "--graceful-timeout", "10",
            # A stop waits for the clients' idle kept-alive connections to expire (up to 2 s in gunicorn 27):
            # the VNFMs keep theirs after their last answer, at the end of every run.
            "--keep-alive", str(KEEP_ALIVE_SECONDS),
            "--no-control-socket",  # its default path is shared by every gunicorn of the user
            APP,
        ]

    def environment(self) -> Dict[str, str]:
        env = dict(os.environ, **self.extra_env)
        env.update(FENIX_JOURNAL=self.journal, FENIX_API_AUTH=self.auth, FENIX_API_TOKEN_TTL=str(self.token_ttl))
        env.update(self.launch.environment())
        # The runs the service launches find the collection where the service does.
        env["ANSIBLE_COLLECTIONS_PATH"] = self.collections_path
        if self.cloud:
            env["FENIX_API_CLOUD"] = self.cloud
        if self.clouds_yaml:
            env["OS_CLIENT_CONFIG_FILE"] = self.clouds_yaml
        if self.token_cache:
            env["FENIX_API_TOKEN_CACHE"] = self.token_cache
        if self.policy_file:
            env["FENIX_API_POLICY_FILE"] = self.policy_file
        return env


def check_settings(settings: ApiSettings) -> None:
    """Refuse what cannot work, before anything starts."""
    package = os.path.join(settings.collections_path, "ansible_collections", "fenix", "maintenance")
    if not os.path.isdir(package):
        raise ApiProcessError("collections_path: %s has no ansible_collections/fenix/maintenance; give the"
                              " directory the collection is installed under" % settings.collections_path)
    if settings.auth not in ("keystone", "none"):
        raise ApiProcessError("auth_mode: %r is not keystone or none" % settings.auth)
    if settings.auth == "keystone" and not settings.cloud:
        raise ApiProcessError("cloud: the service needs credentials to validate Keystone tokens;"
                              " give a cloud (or auth_mode: none in a lab)")
    if settings.policy_file and settings.auth != "keystone":
        raise ApiProcessError("policy_file: auth_mode %s checks nobody, so the policy would not apply; give"
                              " auth_mode: keystone or no policy_file" % settings.auth)
    if settings.policy_file and not os.path.isfile(settings.policy_file):
        raise ApiProcessError("policy_file: %s is not a file; give the path of a YAML policy file"
                              " (see docs/api.md, The policy)" % settings.policy_file)
    try:
        settings.launch.check()
    except ValueError as exc:
        raise ApiProcessError(str(exc))
    host, _colon, port = settings.bind.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ApiProcessError("bind: %r is not HOST:PORT" % settings.bind)
    missing = _missing_libraries(settings.python, settings.auth)
    if missing:
        raise ApiProcessError("python: %s lacks %s; pip install %s"
                              % (settings.python, ", ".join(missing), " ".join(missing)))


def _missing_libraries(python: str, auth: str) -> List[str]:
    needed = ("gunicorn", "falcon", "jsonschema") + (KEYSTONE_MODULES if auth == "keystone" else ())
    probe = "import importlib.util as u; print(' '.join(m for m in %r if u.find_spec(m) is None))" % (needed,)
    try:
        out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ApiProcessError("python: cannot run %s: %s" % (python, exc))
    return out.split()


def running(settings: ApiSettings) -> Optional[dict]:
    """What the state file says is running there, if that process is alive."""
    try:
        with open(settings.state_file) as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        return None
    return state if alive(state.get("pid")) else None


def start(settings: ApiSettings, timeout: float = 60.0) -> dict:
    """Start the service and wait until it answers; the state of the running service.

    When this run directory's service already runs with the same settings, its
    state, and nothing changes; with other settings, refused: starting another
    one would leave the first running with no state file to stop it by.
    """
    check_settings(settings)
    current = running(settings)
    if current is not None:
        if current.get("fingerprint") == settings.fingerprint:
            return current
        raise ApiProcessError("run_dir: %s has an API service running (pid %s) with other settings; stop it"
                              " first (maintenance_api state=stopped)" % (settings.run_dir, current["pid"]))
    if _answers(settings.url.rsplit("/v1", 1)[0] + "/"):
        # Another process (a run killed earlier, another run dir) holds the port: ours could not
        # bind, and the readiness check would be answered by the wrong service.
        raise ApiProcessError("bind: something already answers on %s; stop it (maintenance_api state=stopped with"
                              " its run_dir) or choose another port" % settings.bind)
    os.makedirs(settings.run_dir, mode=0o700, exist_ok=True)
    with open(settings.log_file, "ab") as log:
        log_start = log.tell()
        process = subprocess.Popen(
            settings.command(), env=settings.environment(), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
        )
    state = {"pid": process.pid, "url": settings.url, "fingerprint": settings.fingerprint,
             "log_file": settings.log_file, "journal": settings.journal, "auth": settings.auth}
    with open(settings.state_file, "w") as handle:
        json.dump(state, handle)
    try:
        wait_ready(settings.url, timeout, process)
    except ApiProcessError as exc:
        stop_pid(process.pid, 10)
        reasons = start_failures(settings.log_file, log_start)
        if reasons:
            raise ApiProcessError("%s; it said: %s" % (exc, "; ".join(reasons))) from None
        raise
    return state


def start_failures(log_file: str, offset: int) -> List[str]:
    """Why the service said it could not start, each reason once, from what it wrote after ``offset``."""
    try:
        with open(log_file, "rb") as handle:
            handle.seek(offset)
            written = handle.read().decode(errors="replace")
    except OSError:
        return []
    reasons = [line[len(API_START_FAILURE_MARK):] for line in written.splitlines() if line.startswith(API_START_FAILURE_MARK)]
    return list(dict.fromkeys(reasons))


def wait_ready(url: str, timeout: float, process: Optional[subprocess.Popen] = None) -> None:
    deadline = time.monotonic() + timeout
    root = url.rsplit("/v1", 1)[0] + "/"
    while True:
        if process is not None and process.poll() is not None:
            raise ApiProcessError("the API service exited with code %s; see its log" % process.returncode)
        if _answers(root):
            return
        if time.monotonic() > deadline:
            raise ApiProcessError("the API service did not answer on %s within %ss; see its log" % (root, timeout))
        time.sleep(0.2)


def _answers(url: str) -> bool:
    """Whether GET ``url`` answers 200 (http.client: the engine stays free of Ansible's urls helpers)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
    try:
        connection.request("GET", parts.path or "/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def stop(settings: ApiSettings, timeout: float = 30.0) -> bool:
    """Stop the service started in this run directory; whether one was running."""
    state = running(settings)
    if state is None:
        _remove(settings.state_file)
        return False
    stop_pid(state["pid"], timeout)
    _remove(settings.state_file)
    return True


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def log_tail(settings: ApiSettings, lines: int = 20) -> str:
    try:
        with open(settings.log_file, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""


SERVICE_TYPE = "maintenance"  # what Fenix clients look up in the catalog
SERVICE_NAME = "fenix"


def catalog_changes(conn, url: str, region: Optional[str]) -> List[str]:
    """What registering ``url`` as the public ``maintenance`` endpoint would change (empty: nothing)."""
    service = _catalog_service(conn)
    if service is None:
        return ["create service %s (%s)" % (SERVICE_NAME, SERVICE_TYPE), "create public endpoint %s" % url]
    endpoints = _public_endpoints(conn, service.id, region)
    if [endpoint.url for endpoint in endpoints] == [url]:
        return []
    return ["replace public endpoint %s with %s" % (", ".join(e.url for e in endpoints) or "none", url)]


def register_in_catalog(conn, url: str, region: Optional[str]) -> List[str]:
    """Make ``url`` the one public ``maintenance`` endpoint (in ``region``); the changes made."""
    changes = catalog_changes(conn, url, region)
    if not changes:
        return changes
    service = _catalog_service(conn) or conn.identity.create_service(name=SERVICE_NAME, type=SERVICE_TYPE)
    for endpoint in _public_endpoints(conn, service.id, region):
        conn.identity.delete_endpoint(endpoint)
    conn.identity.create_endpoint(service_id=service.id, interface="public", url=url, region_id=region)
    return changes


def _catalog_service(conn):
    return next(iter(conn.identity.services(type=SERVICE_TYPE)), None)


def _public_endpoints(conn, service_id: str, region: Optional[str]) -> list:
    return [endpoint for endpoint in conn.identity.endpoints(service_id=service_id, interface="public")
            if region is None or endpoint.region_id == region]
