# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The maintenance API service: Fenix Host Maintenance API v1 over the session journal.

A WSGI application, served by gunicorn (see the maintenance_api module and
role). Every accepted request is committed to the journal before the answer
goes out, so an answered reply survives a killed service. Configuration
comes from the environment, so that ``gunicorn '...api:create_app()'`` is
the whole command line:

- FENIX_JOURNAL: SQLite path or PostgreSQL DSN of the journal.
- FENIX_API_AUTH: ``keystone`` (default) or ``none`` (labs only: no checks at all).
- FENIX_API_CLOUD: clouds.yaml entry of the service's own user, used to
  validate tokens (keystonemiddleware's auth_token, api/auth.py) and to enable
  hosts again when a session is deleted.
- FENIX_API_TOKEN_TTL: longest time a token validation is trusted (seconds, default 300).
- FENIX_API_TOKEN_CACHE: a directory of kept Keystone tokens (the modules' ``token_cache``): the service's cloud
  connection starts with the token kept there for its credentials, if any, instead of a new one.
- FENIX_API_POLICY_FILE: an oslo.policy file (YAML) overriding the default rules of api/policy.py.
- FENIX_API_MAX_BODY: largest request body accepted (bytes, default 1048576: 1 MiB); a longer one is 413.
- FENIX_API_LAUNCHER: who runs a session POSTed here: ``runner`` (default: ansible-runner on this host),
  ``controller`` (an AWX / Automation Controller job template) or ``none``; its companions
  (FENIX_API_RUNS_DIR, FENIX_API_RUN_INVENTORY, FENIX_API_RUN_VARS, FENIX_API_CONTROLLER_*) are in
  api/launcher.py.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

try:
    import falcon
    HAS_FALCON = True
except ImportError:
    HAS_FALCON = False

from ansible_collections.fenix.maintenance.plugins.module_utils.api.auth import (
    HAS_KEYSTONEMIDDLEWARE,
    NOBODY_CHECKED,
    Caller,
    Unauthorized,
    caller_of,
    protect,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.api.body import (
    DEFAULT_MAX_BODY,
    HAS_JSONSCHEMA,
    BodyError,
    parse_body,
    parse_max_body,
    read_body,
    refuse_declared_size,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import (
    SESSION_VARIABLE,
    LaunchError,
    LaunchSettings,
    make_launcher,
    read_run_vars,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.api.policy import (
    HAS_OSLO_POLICY,
    POLICY_FILE_VARIABLE,
    Policy,
    operation_rule,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.api.schema import ROUTES, openapi_document
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import settle_migrations_from
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.token_cache import load_token
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.lease_keeper import holder_ended
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.leases import held_message
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.location import (
    journal_path,
    open_journal,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    ConstraintNotFound,
    JournalError,
    ProjectNotFound,
    SessionNotFound,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.report.report import EXTENSIONS, build_report, render
from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.session import (
    normalize_maintenance_at,
    resolve_hosts,
    restore_hosts,
    session_view,
    state_before_failure,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import API_START_FAILURE_MARK

LOG = logging.getLogger("fenix.maintenance.api")
AUTH_MODES = ("keystone", "none")
API_LIBRARIES = "falcon, jsonschema and gunicorn"
HAS_API_LIBS = HAS_FALCON and HAS_JSONSCHEMA
KEYSTONE_LIBRARIES = "keystonemiddleware and oslo.policy"
HAS_KEYSTONE_LIBS = HAS_KEYSTONEMIDDLEWARE and HAS_OSLO_POLICY


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ServiceConfig:
    journal: Optional[str] = None
    auth: str = "keystone"
    cloud: Optional[str] = None
    token_ttl: float = 300.0
    policy_file: Optional[str] = None
    max_body: int = DEFAULT_MAX_BODY
    launch: LaunchSettings = field(default_factory=LaunchSettings)
    token_cache: Optional[str] = None

    @classmethod
    def from_environment(cls, environ: Optional[Dict[str, str]] = None) -> "ServiceConfig":
        environ = os.environ if environ is None else environ
        config = cls(
            journal=environ.get("FENIX_JOURNAL"),
            auth=environ.get("FENIX_API_AUTH", "keystone"),
            cloud=environ.get("FENIX_API_CLOUD") or environ.get("OS_CLOUD"),
            token_ttl=float(environ.get("FENIX_API_TOKEN_TTL", "300")),
            policy_file=environ.get(POLICY_FILE_VARIABLE) or None,
            max_body=parse_max_body(environ.get("FENIX_API_MAX_BODY")),
            launch=LaunchSettings.from_environment(environ),
            token_cache=environ.get("FENIX_API_TOKEN_CACHE") or None,
        )
        config.check()
        return config

    def check(self) -> None:
        if self.auth not in AUTH_MODES:
            raise ValueError("FENIX_API_AUTH: %r is not one of %s" % (self.auth, ", ".join(AUTH_MODES)))
        if self.max_body < 1:
            raise ValueError("max_body: %r is not a positive number of bytes" % self.max_body)
        self.launch.check()
        if self.auth == "keystone" and not self.cloud:
            raise ValueError("FENIX_API_CLOUD: missing; name the clouds.yaml entry of the service user"
                             " that validates Keystone tokens (or set FENIX_API_AUTH=none in a lab)")
        if self.auth == "none" and self.policy_file:
            raise ValueError("%s: FENIX_API_AUTH=none checks nobody, so a policy file would not apply; unset one"
                             " of them" % POLICY_FILE_VARIABLE)


@dataclass
class Document:
    """An answer that is not JSON: one of the run report's documents."""
    content_type: str
    text: str


# The report's documents as served: format -> media type.
REPORT_MEDIA_TYPES = {"json": "application/json", "html": "text/html; charset=utf-8",
                      "svg": "image/svg+xml; charset=utf-8", "markdown": "text/markdown; charset=utf-8"}
# The report names servers and projects chosen by tenants: escaped, and no script may run even so.
REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"
# How long a DELETE waits for the migrations of a stopped run to end (a live migration of the test
# cloud takes seconds, a real one of a large server minutes).
SETTLE_TIMEOUT = 600


def report_links(base_url: str, session_id: str) -> Dict[str, str]:
    """The URLs of a session's run report, by format."""
    prefix = "%s/v1/maintenance/%s/report." % (base_url, quote(session_id, safe=""))
    return {name: prefix + EXTENSIONS[name] for name in REPORT_MEDIA_TYPES}


@dataclass
class Call:
    """One request as the handlers see it."""
    caller: Caller
    params: Dict[str, str]
    body: Dict[str, Any] = field(default_factory=dict)
    base_url: str = ""


class Service:
    """The handlers, one per operation of api_schema.ROUTES, over one journal and one cloud connection."""

    def __init__(self, config: ServiceConfig, connect: Optional[Callable[[], Any]] = None) -> None:
        self.config = config
        self.location = journal_path(config.journal)
        self._connect = connect or (lambda: _connect_cloud(config.cloud, config.token_cache))
        self._conn = None
        self._conn_lock = threading.RLock()  # conn is read while the lock is held
        self._local = threading.local()
        # The rules of who may call what; None in lab mode, where nobody is checked.
        self.policy = None if config.auth == "none" else Policy(config.policy_file)
        self.launcher = make_launcher(config.launch, self.location)

    @property
    def journal(self) -> Journal:
        # One connection per thread: a journal connection is not shared across threads.
        journal = getattr(self._local, "journal", None)
        if journal is None:
            journal = self._local.journal = open_journal(self.location)
        return journal

    @property
    def conn(self):
        with self._conn_lock:
            if self._conn is None:
                self._conn = self._connect()
            return self._conn

    def authorize(self) -> str:
        """The service's own token (connecting first if need be), under the lock every use of conn holds."""
        with self._conn_lock:
            return self.conn.authorize()

    @property
    def has_cloud(self) -> bool:
        return bool(self.config.cloud)

    def caller(self, environ: Dict[str, Any]) -> Caller:
        """The caller of a request, from what keystonemiddleware's auth_token found (its WSGI environment)."""
        if self.policy is None:
            return NOBODY_CHECKED
        return caller_of(environ, self.policy)

    # public
    def versions(self, call: Call) -> dict:
        return {"versions": [{"id": "v1", "status": "CURRENT", "links": [
            {"rel": "self", "href": call.base_url + "/v1"}]}]}

    def openapi(self, call: Call) -> dict:
        return openapi_document(call.base_url or "/")

    # admin: sessions
    def create_session(self, call: Call) -> dict:
        body = call.body
        try:
            maintenance_at = normalize_maintenance_at(body.get("maintenance_at"))
        except ValueError as exc:
            raise ApiError(400, str(exc))
        hosts = list(body.get("hosts") or [])
        if self.has_cloud:
            try:
                with self._conn_lock:
                    hosts = resolve_hosts(self.conn, hosts)
            except ValueError as exc:
                raise ApiError(400, str(exc))
        # A host another running session maintains is refused (409): two runs would move the same servers.
        session = self.journal.create_session(
            hosts, workflow=body.get("workflow") or "default", maintenance_at=maintenance_at,
            metadata=body.get("metadata"), request=body, session_id=body.get("session_id"), exclusive=True)
        self._launch(session.session_id, call.base_url)
        return {"session_id": session.session_id}

    def _launch(self, session_id: str, base_url: str) -> None:
        """Start the session's run; a run that cannot start fails the session with the reason (PUT retries)."""
        try:
            self.launcher.start(session_id, self._run_variables(session_id, base_url))
        except LaunchError as exc:
            if self.journal.session(session_id).state != "MAINTENANCE_FAILED":
                self.journal.set_session_state(session_id, "MAINTENANCE_FAILED", "launch: %s" % exc)
            raise

    def _run_variables(self, session_id: str, base_url: str) -> dict:
        """The operator's role variables, with this session, this journal and this API."""
        try:
            variables = read_run_vars(self.config.launch.run_vars)
        except (OSError, ValueError) as exc:
            raise LaunchError("FENIX_API_RUN_VARS: %s" % exc, 500)
        if self.config.cloud:
            variables.setdefault("rolling_maintenance_cloud", self.config.cloud)
        variables.update({SESSION_VARIABLE: session_id, "rolling_maintenance_journal": self.location,
                          "rolling_maintenance_api_mode": "external",
                          "rolling_maintenance_api_url": (base_url or "") + "/v1"})
        return variables

    def list_sessions(self, call: Call) -> dict:
        return {"session_id": [session.session_id for session in self.journal.sessions()]}

    def get_session(self, call: Call) -> dict:
        session = self.journal.session(call.params["session_id"])
        return {"session_id": session.session_id, "state": session.state, "reason": session.reason}

    def update_session(self, call: Call) -> dict:
        """Continue a failed or stopped session (Fenix's PUT): its state back, then a new run."""
        session_id = call.params["session_id"]
        self.launcher.refuse_second_run(session_id)
        self._refuse_while_a_run_holds(session_id)
        current = self.journal.session(session_id)
        state = call.body.get("state")
        if not state and current.state == "MAINTENANCE_DONE":
            raise ApiError(409, "session %s is MAINTENANCE_DONE: there is nothing to continue" % session_id)
        if not state and current.state != "MAINTENANCE_FAILED" and self.launcher.kind != "none":
            state = current.state  # a stopped run (killed, lost): continue where it was
        state = state or self._state_before_failure(session_id)
        session = self.journal.set_session_state(session_id, state, call.body.get("reason"))
        if self.launcher.kind != "none":
            self._launch(session_id, call.base_url)
        return {"session_id": session_id, "state": session.state}

    def _state_before_failure(self, session_id: str) -> str:
        session = self.journal.session(session_id)
        if session.state != "MAINTENANCE_FAILED":
            raise ApiError(409, "state: missing; session %s is %s, not failed, so give the state to move it to"
                           % (session_id, session.state))
        return state_before_failure(self.journal, session_id)

    def delete_session(self, call: Call) -> dict:
        session_id = call.params["session_id"]
        journal = self.journal
        journal.session(session_id)
        own = self.launcher.find(session_id)
        if own is None or not own.alive:
            # Not the service's own run (stopped below), but a run by hand or from elsewhere holds the session.
            self._refuse_while_a_run_holds(session_id)
        stopped = self.launcher.stop(session_id)
        if stopped is not None and stopped.alive:
            raise ApiError(409, "session %s: its run %s did not stop; the session is kept" % (session_id, stopped.ident))
        if stopped is not None and self.has_cloud:
            self._settle_migrations(session_id)
        enabled: List[str] = []
        left = journal.hosts_disabled_by_session(session_id)
        if left and not self.has_cloud:
            raise ApiError(409, "session %s disabled %s; the service needs FENIX_API_CLOUD to enable them"
                                " again before deleting the session" % (session_id, ", ".join(left)))
        if left:
            with self._conn_lock:
                enabled, left = restore_hosts(self.conn, journal, session_id, check_mode=False)
        journal.delete_session(session_id)
        return {"session_id": session_id, "enabled_hosts": enabled, "left_hosts": left}

    def _refuse_while_a_run_holds(self, session_id: str) -> None:
        """409 while a live run holds the session's lease: changing the session under it would race its moves."""
        held = self.journal.held_lease(session_id, ended=holder_ended)
        if held is not None:
            raise ApiError(409, held_message(held, self.journal.clock()))

    def _settle_migrations(self, session_id: str) -> None:
        """After a stopped run: what Nova still moves off the session's hosts ends before they are enabled."""
        hosts = [record.host for record in self.journal.hosts(session_id)]
        with self._conn_lock:
            moving = settle_migrations_from(self.conn, hosts, timeout=SETTLE_TIMEOUT)
        if moving:
            raise ApiError(409, "session %s: its run is stopped, but Nova still migrates %s after %d s; the session"
                                " is kept, DELETE again once they have settled"
                           % (session_id, ", ".join(moving), SETTLE_TIMEOUT))

    def get_session_detail(self, call: Call) -> dict:
        journal = self.journal
        view = session_view(journal, journal.session(call.params["session_id"]), with_events=True)
        view["report"] = report_links(call.base_url, call.params["session_id"])
        run = self.launcher.find(call.params["session_id"])
        view["run"] = run.as_dict() if run is not None else None
        return view

    # admin: the run report, made from the journal at each request
    def get_report_json(self, call: Call) -> dict:
        return build_report(self.journal, call.params["session_id"])

    def get_report_html(self, call: Call) -> Document:
        return self._report_document(call, "html")

    def get_report_svg(self, call: Call) -> Document:
        return self._report_document(call, "svg")

    def get_report_markdown(self, call: Call) -> Document:
        return self._report_document(call, "markdown")

    def _report_document(self, call: Call, name: str) -> Document:
        session_id = call.params["session_id"]
        # The Markdown's picture is the SVG served beside it.
        documents = render(build_report(self.journal, session_id), (name,), svg_name="report.svg")
        return Document(REPORT_MEDIA_TYPES[name], documents[name])

    # project: notifications and replies
    def get_project(self, call: Call) -> dict:
        session_id, project_id = call.params["session_id"], call.params["project_id"]
        project = self.journal.project(session_id, project_id)
        instance_ids = project.instance_ids or [
            record.instance_id for record in self.journal.instances(session_id, project_id)]
        return {"instance_ids": instance_ids, "state": project.state, "allowed_actions": project.allowed_actions,
                "actions_at": project.actions_at, "reply_at": project.reply_at, "reply": project.reply}

    def reply_project(self, call: Call) -> dict:
        project = self.journal.record_reply(call.params["session_id"], call.params["project_id"],
                                            call.body["state"], call.body.get("instance_actions") or {})
        return {"state": project.reply, "instance_actions": project.instance_actions}

    def reply_instance(self, call: Call) -> dict:
        """One instance's answer; ``instance_action`` in the answer is the one recorded (its migration_type when
        the body gave none, OWN_ACTION for EVICTION). Extra body fields (session_id, as Doctor sends) are ignored.

        A VNFM written for the default workflow answers the instance's reply_url with the project's form,
        ``instance_actions`` by instance id: the action it names for this instance counts as its instance_action.
        """
        params = call.params
        session_id, project_id, instance_id = params["session_id"], params["project_id"], params["instance_id"]
        action = call.body.get("instance_action") or (call.body.get("instance_actions") or {}).get(instance_id)
        project = self.journal.record_instance_reply(session_id, project_id, instance_id, call.body["state"], action)
        recorded = [record.action for record in self.journal.instances(session_id, project_id)
                    if record.instance_id == instance_id and project.allowed_actions]
        return {"state": call.body["state"], "instance_action": recorded[0] if recorded else None,
                "project_state": project.reply}

    # project: constraints
    def get_instance_group(self, call: Call) -> dict:
        return self._owned_constraint(call, "instance_group", call.params["group_id"])

    def set_instance_group(self, call: Call) -> dict:
        return self._set_constraint(call, "instance_group", "group_id", call.params["group_id"])

    def delete_instance_group(self, call: Call) -> dict:
        return self._delete_constraint(call, "instance_group", call.params["group_id"])

    def get_instance(self, call: Call) -> dict:
        return self._owned_constraint(call, "instance", call.params["instance_id"])

    def set_instance(self, call: Call) -> dict:
        return self._set_constraint(call, "instance", "instance_id", call.params["instance_id"])

    def delete_instance(self, call: Call) -> dict:
        return self._delete_constraint(call, "instance", call.params["instance_id"])

    def _owned_constraint(self, call: Call, kind: str, key: str) -> dict:
        stored = self.journal.constraint(kind, key)
        if not call.caller.may_act_for(stored.get("project_id")):
            raise ApiError(403, "%s %s belongs to another project" % (kind.replace("_", " "), key))
        return stored

    def _set_constraint(self, call: Call, kind: str, key_name: str, key: str) -> dict:
        body = call.body
        if body.get(key_name) not in (None, key):
            raise ApiError(400, "%s: %r differs from the %s in the URL (%s)" % (key_name, body[key_name], key_name, key))
        project_id = body.get("project_id") or call.caller.project_id
        if not project_id:
            raise ApiError(400, "project_id: missing; give the project the constraints belong to")
        if not call.caller.may_act_for(project_id):
            raise ApiError(403, "project_id: %s is not the project of your token" % project_id)
        try:
            current = self.journal.constraint(kind, key)
        except ConstraintNotFound:
            current = None
        self._check_writer(call, kind, key, current)
        if kind == "instance" and self.has_cloud:
            self._check_server_owner(key, project_id)
        schema_fields = _REQUEST_SCHEMAS["set_" + kind]["properties"]
        stored = {name: value for name, value in body.items() if name in schema_fields}
        stored.update({key_name: key, "project_id": project_id})
        return self.journal.set_constraint(kind, key, project_id, stored)

    def _check_server_owner(self, instance_id: str, project_id: str) -> None:
        from openstack import exceptions
        if not _is_uuid(instance_id):
            raise ApiError(400, "instance_id: %r is not a Nova server id (a UUID)" % instance_id)
        try:
            with self._conn_lock:
                server = self.conn.compute.get_server(instance_id)
        except exceptions.NotFoundException:
            server = None
        except exceptions.HttpException as exc:
            raise ApiError(502, "Nova could not be asked about server %s: %s" % (instance_id, exc))
        if server is None:
            raise ApiError(400, "instance_id: no server %s in the cloud" % instance_id)
        if server.project_id != project_id:
            raise ApiError(403, "instance_id: server %s does not belong to project %s" % (instance_id, project_id))

    def _check_writer(self, call: Call, kind: str, key: str, current: Optional[dict]) -> None:
        """403 unless the caller may write (PUT, DELETE) these constraints. An admin may; a Nova server
        group's belong to the project that owns the group in Nova, whoever wrote them before; any other
        constraints belong to the project that wrote them first."""
        caller = call.caller
        owner = None if caller.is_admin or kind != "instance_group" else self._server_group_owner(key)
        if owner is not None:
            if owner != caller.project_id:
                raise ApiError(403, "group_id: %s is a Nova server group of another project; only the project"
                                    " that owns a server group may write its constraints" % key)
            return
        if current and not caller.may_act_for(current.get("project_id")):
            raise ApiError(403, "%s %s belongs to another project" % (kind.replace("_", " "), key))

    def _server_group_owner(self, group_id: str) -> Optional[str]:
        """The project that owns Nova server group group_id, None when Nova has no such group."""
        from openstack import exceptions
        if not self.has_cloud or not _is_uuid(group_id):
            return None  # Nova's group ids are UUIDs
        try:
            with self._conn_lock:
                group = self.conn.compute.get_server_group(group_id)
        except exceptions.NotFoundException:
            return None
        except exceptions.HttpException as exc:
            raise ApiError(502, "Nova could not be asked about server group %s: %s" % (group_id, exc))
        if not group.project_id:
            raise ApiError(502, "Nova did not say which project owns server group %s" % group_id)
        return group.project_id

    def _delete_constraint(self, call: Call, kind: str, key: str) -> dict:
        self._check_writer(call, kind, key, self.journal.constraint(kind, key))
        self.journal.delete_constraint(kind, key)
        return {}


_REQUEST_SCHEMAS = {operation: request for _m, _p, operation, _w, request, _r in ROUTES if request is not None}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _connect_cloud(cloud: Optional[str], token_cache: Optional[str] = None):
    """The service's cloud connection; with ``token_cache``, holding the token the run's modules keep there.

    Every service validates a token it has not seen with Keystone, once in each of its worker processes (Nova's
    API, without a shared memcached, four times here). A service started for one run, with a token of its own,
    paid that on its first Nova reads, which are the VNFMs' first constraints (the owner checks of
    ``_check_server_owner``), on the run's path while it waits for their answers. The run's token is known to
    them already. A kept token the cloud refuses is replaced by keystoneauth at the first request.
    """
    import openstack
    conn = openstack.connect(cloud=cloud)
    if token_cache:
        load_token(token_cache, conn.session.auth)
    return conn


def authorize(caller: Caller, operation: str, who: str, params: Dict[str, str]) -> None:
    """403 unless the operation's policy rule lets the caller act: for the project in the path, on a project
    endpoint without one for the caller's own project (the handler then checks who owns the record)."""
    if who == "public":
        return
    project_id = params.get("project_id", caller.project_id) if who == "project" else None
    rule = operation_rule(operation)
    if caller.may(rule, project_id):
        return
    if who == "admin":
        raise ApiError(403, "this endpoint needs a token with the admin role (policy rule %s)" % rule)
    if "project_id" in params:
        raise ApiError(403, "project %s: your token is scoped to project %s (policy rule %s)"
                       % (params["project_id"], caller.project_id, rule))
    raise ApiError(403, "your token is scoped to project %s, which may not call this endpoint (policy rule %s)"
                   % (caller.project_id, rule))


def request_stream(req):
    """Where the body is read from: a chunked body (no Content-Length) only when the server ends the stream."""
    if req.content_length is None and req.env.get("wsgi.input_terminated"):
        return req.stream
    return req.bounded_stream


# Journal errors as HTTP answers: what is unknown is 404, what does not fit the state is 409.
_STATUS_OF = ((SessionNotFound, 404), (ProjectNotFound, 404), (ConstraintNotFound, 404), (JournalError, 409))


def status_of(exc: JournalError) -> int:
    return next(code for kind, code in _STATUS_OF if isinstance(exc, kind))


class Operation:
    """One path's methods; each runs: authenticate, authorize, validate, handle."""

    def __init__(self, service: Service, methods: Dict[str, Tuple[str, str, Optional[dict]]]) -> None:
        self.service = service
        self.methods = methods

    def _serve(self, req, resp, **params) -> None:
        method = req.method.lower()
        if method not in self.methods:
            raise ApiError(405, "%s is not allowed here; use %s"
                           % (req.method, ", ".join(sorted(m.upper() for m in self.methods))))
        operation, who, schema = self.methods[method]
        limit = self.service.config.max_body
        refuse_declared_size(req.content_length, limit)
        caller = NOBODY_CHECKED if who == "public" else self._caller(req)
        authorize(caller, operation, who, params)
        body = parse_body(read_body(request_stream(req), limit), schema) if schema is not None else {}
        call = Call(caller=caller, params=params, body=body, base_url=req.forwarded_prefix)
        try:
            answer = getattr(self.service, operation)(call)
        except JournalError as exc:
            raise ApiError(status_of(exc), str(exc))
        except LaunchError as exc:
            raise ApiError(exc.code, str(exc))
        if isinstance(answer, Document):
            resp.content_type = answer.content_type
            resp.set_header("Content-Security-Policy", REPORT_POLICY)
            resp.set_header("X-Content-Type-Options", "nosniff")
            resp.text = answer.text
        else:
            resp.media = answer

    def _caller(self, req) -> Caller:
        try:
            return self.service.caller(req.env)
        except Unauthorized as exc:
            raise ApiError(401, str(exc))

    on_get = on_put = on_post = on_delete = on_patch = _serve


def create_app(config: Optional[ServiceConfig] = None, connect: Optional[Callable[[], Any]] = None):
    """The WSGI application; gunicorn calls this with no arguments (configuration from the environment)."""
    try:
        application, service = build(config, connect)
    except (ValueError, RuntimeError) as exc:
        # gunicorn buries a worker's boot error under its own tracebacks: one marked line lets
        # whoever started the service (process.start) say why it did not start.
        sys.stderr.write("%s%s\n" % (API_START_FAILURE_MARK, exc))
        sys.stderr.flush()
        raise
    if service.config.auth == "keystone":
        threading.Thread(target=warm_up, args=(application, service), name="warm-up", daemon=True).start()
    return application


def warm_up(application, service: "Service") -> None:
    """What a worker's first request would do once, done before it comes: open the cloud connection (import
    openstacksdk, get the service's token) and have auth_token get its own token by validating that one.

    A VNFM's first answers otherwise took 0.4-0.6 s each where later ones take milliseconds, on the run's path
    while it waits for the answers to MAINTENANCE. A failure here only leaves that work to the first request.
    """
    try:
        token = service.authorize()
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "SERVER_NAME": "localhost",
                   "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "HTTP_X_AUTH_TOKEN": token}
        for _chunk in application(environ, lambda status, headers, exc_info=None: None):
            pass
    except Exception as exc:  # pylint: disable=broad-except
        LOG.warning("warm-up: %s (the first request does this work instead)", exc)


def build(config: Optional[ServiceConfig] = None, connect: Optional[Callable[[], Any]] = None):
    """The WSGI application (behind keystonemiddleware's auth_token in keystone mode) and the Service behind it."""
    if not HAS_API_LIBS:
        raise RuntimeError("the maintenance API needs %s; pip install falcon jsonschema gunicorn" % API_LIBRARIES)
    config = config or ServiceConfig.from_environment()
    config.check()
    if config.auth == "keystone" and not HAS_KEYSTONE_LIBS:
        raise RuntimeError("FENIX_API_AUTH=keystone needs %s; pip install keystonemiddleware oslo.policy"
                           % KEYSTONE_LIBRARIES)
    service = Service(config, connect)
    if config.auth == "none":
        LOG.warning("!!! NO AUTHENTICATION: every caller is treated as an admin (FENIX_API_AUTH=none)."
                    " Use this in a lab only, never on a network others can reach. !!!")
    app = falcon.App(middleware=[_LabModeHeader()] if config.auth == "none" else [])
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.default_media_type = falcon.MEDIA_JSON
    app.add_error_handler((ApiError, BodyError), _api_error)
    app.add_error_handler(Exception, _unexpected_error)
    app.set_error_serializer(_http_error)
    by_path: Dict[str, Dict[str, Tuple[str, str, Optional[dict]]]] = {}
    for method, path, operation, who, request, _response in ROUTES:
        by_path.setdefault(path, {})[method] = (operation, who, request)
    for path, methods in by_path.items():
        app.add_route(path, Operation(service, methods))
    if config.auth == "none":
        return app, service
    return protect(app, config.cloud, config.token_ttl), service


def _error_body(code: int, message: str) -> dict:
    return {"error": {"code": code, "title": falcon.code_to_http_status(code)[4:], "message": message}}


def _api_error(req, resp, exc, params) -> None:
    resp.status = exc.code
    resp.media = _error_body(exc.code, exc.message)


def _unexpected_error(req, resp, exc: Exception, params) -> None:
    if isinstance(exc, falcon.HTTPError):
        resp.status = exc.status
        resp.media = _error_body(exc.status_code, exc.description or exc.title)
        return
    LOG.exception("%s %s failed", req.method, req.path)
    resp.status = 500
    resp.media = _error_body(500, "internal error: %s (the service log has the details)" % type(exc).__name__)


def _http_error(req, resp, exc) -> None:
    message = exc.description or exc.title
    if exc.status_code == 404 and not exc.description:
        message = "no such resource: %s; the API is described at /v1/openapi.json" % req.path
    resp.content_type = falcon.MEDIA_JSON
    resp.data = json.dumps(_error_body(exc.status_code, message)).encode()


class _LabModeHeader:
    def process_response(self, req, resp, resource, req_succeeded) -> None:
        resp.set_header("X-Fenix-Auth", "none (lab mode)")
