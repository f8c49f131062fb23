"""A small stand-in for the AWX / Automation Controller REST API (/api/v2/), for the tests of
examples/awx_config_as_code/. No AWX can run here; OpenStack is never faked (this is not OpenStack).

It models what the awx.awx modules (module_utils/controller_api.py) send and expect:
- a token from POST /api/v2/tokens/ with basic auth, then "Authorization: Bearer"; the token is
  deleted (DELETE /api/v2/tokens/ID/) when a module ends; anything else without auth is a 401;
- X-API-Product-Name / X-API-Product-Version headers (the modules compare versions with them);
- list views {count, next, previous, results} filtered by field equality and or__id / or__name;
- POST creates (201, the object), PATCH updates (200), DELETE (204); every object has id, type,
  url, related and summary_fields as AWX's serializers give them;
- secret credential inputs read back as "$encrypted$";
- a project from SCM starts a project update at creation (summary_fields.current_update); its
  playbooks and inventory files are read, as AWX does after the update, from a local directory
  given for the project's scm_url; a job template's playbook must be one of them, and so must an
  inventory source's source_path;
- survey specs at job_templates/ID/survey_spec/ (GET, POST, DELETE), validated as AWX does;
- credentials associated with job templates at job_templates/ID/credentials/;
- job_templates/ID/launch/ as AWX's JobTemplateLaunch answers it: extra_vars are accepted when the
  template prompts for variables, else only the enabled survey's variables (the rest comes back in
  ignored_fields), a required survey question without an answer or a default is a 400
  variables_needed_to_start; a job (jobs/ID/, status pending, never run here) that jobs/ID/cancel/ cancels.

Run: python fake_controller.py --port 0 --user admin --password PW --scm URL=DIR [--scm ...]
It prints "listening on PORT" and serves until killed. GET /api/v2/_state/ (test only) dumps
every object, secrets included, for the assertions.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import json
import os
import re
import secrets
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlparse

API = "/api/v2/"
VERSION = "24.6.1"
ENCRYPTED = "$encrypted$"
PLAYBOOK_LINE = re.compile(r"^\s*?-?\s*?(?:hosts|(ansible\.builtin\.)?include|(ansible\.builtin\.)?import_playbook):\s*?.*?$", re.M)
# awx.main.utils.ansible.skip_directory: what AWX does not look into for playbooks.
SKIPPED_DIRS = {"roles", "tasks", "group_vars", "host_vars"}
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}

OPENSTACK_INPUTS = {
    "fields": [
        {"id": "username", "label": "Username", "type": "string"},
        {"id": "password", "label": "Password (API Key)", "type": "string", "secret": True},
        {"id": "host", "label": "Host (Authentication URL)", "type": "string"},
        {"id": "project", "label": "Project (Tenant Name)", "type": "string"},
        {"id": "project_domain_name", "label": "Project (Domain Name)", "type": "string"},
        {"id": "domain", "label": "Domain Name", "type": "string"},
        {"id": "region", "label": "Region Name", "type": "string"},
        {"id": "verify_ssl", "label": "Verify SSL", "type": "boolean", "default": True},
    ],
    "required": ["username", "password", "host", "project"],
}

# Fields every object of a kind has, with AWX's defaults (those the modules send or compare).
DEFAULTS: Dict[str, Dict[str, Any]] = {
    "organizations": {"description": "", "max_hosts": 0, "default_environment": None},
    "credential_types": {"description": "", "kind": "cloud", "namespace": "", "managed": False, "inputs": {}, "injectors": {}},
    "credentials": {"description": "", "organization": None, "credential_type": None, "inputs": {}},
    "projects": {"description": "", "organization": None, "scm_type": "", "scm_url": "", "scm_branch": "", "scm_refspec": "",
                 "scm_clean": False, "scm_delete_on_update": False, "scm_track_submodules": False, "credential": None,
                 "scm_update_on_launch": False, "scm_update_cache_timeout": 0, "allow_override": False, "timeout": 0,
                 "default_environment": None, "local_path": "", "scm_revision": "", "status": "never updated"},
    "project_updates": {"project": None, "status": "successful", "failed": False, "finished": None, "elapsed": 0.0, "scm_revision": ""},
    "inventories": {"description": "", "organization": None, "kind": "", "host_filter": None, "variables": "",
                    "prevent_instance_group_fallback": False},
    "inventory_sources": {"description": "", "inventory": None, "source": "", "source_path": "", "source_vars": "",
                          "source_project": None, "credential": None, "execution_environment": None, "overwrite": False,
                          "overwrite_vars": False, "timeout": 0, "verbosity": 1, "update_on_launch": False,
                          "update_cache_timeout": 0, "enabled_var": "", "enabled_value": "", "host_filter": "", "limit": "",
                          "scm_branch": ""},
    "job_templates": {"description": "", "job_type": "run", "inventory": None, "project": None, "playbook": "", "scm_branch": "",
                      "forks": 0, "limit": "", "verbosity": 0, "extra_vars": "", "job_tags": "", "force_handlers": False,
                      "skip_tags": "", "start_at_task": "", "timeout": 0, "use_fact_cache": False, "host_config_key": "",
                      "ask_scm_branch_on_launch": False, "ask_diff_mode_on_launch": False, "ask_variables_on_launch": False,
                      "ask_limit_on_launch": False, "ask_tags_on_launch": False, "ask_skip_tags_on_launch": False,
                      "ask_job_type_on_launch": False, "ask_verbosity_on_launch": False, "ask_inventory_on_launch": False,
                      "ask_credential_on_launch": False, "ask_execution_environment_on_launch": False,
                      "ask_forks_on_launch": False, "ask_instance_groups_on_launch": False,
                      "ask_job_slice_count_on_launch": False, "ask_labels_on_launch": False, "ask_timeout_on_launch": False,
                      "survey_enabled": False, "become_enabled": False, "diff_mode": False, "allow_simultaneous": False,
                      "job_slice_count": 1, "webhook_service": "", "webhook_credential": None, "execution_environment": None,
                      "organization": None, "prevent_instance_group_fallback": False},
}
TYPE_NAMES = {"organizations": "organization", "credential_types": "credential_type", "credentials": "credential",
              "projects": "project", "project_updates": "project_update", "inventories": "inventory",
              "inventory_sources": "inventory_source", "job_templates": "job_template"}
FOREIGN_KEYS = {"organization": "organizations", "credential_type": "credential_types", "credential": "credentials",
                "project": "projects", "source_project": "projects", "inventory": "inventories",
                "webhook_credential": "credentials"}


class ApiError(Exception):
    def __init__(self, status: int, body: Dict[str, Any]) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


def now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def project_files(directory: str) -> Tuple[List[str], List[str]]:
    """(playbooks, inventory files) of a checked-out project, as AWX lists them."""
    playbooks, inventories = [], []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS)
        for filename in sorted(filenames):
            if not filename.endswith((".yml", ".yaml")) or filename.startswith("."):
                continue
            path = os.path.join(dirpath, filename)
            relative = os.path.relpath(path, directory)
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            (playbooks if PLAYBOOK_LINE.search(text) else inventories).append(relative)
    return playbooks, inventories


def validate_survey(spec: Any) -> None:
    """AWX's checks of a survey spec (JobTemplateSurveySpec.post); a 400 {"error": ...} otherwise."""
    def bad(message: str) -> None:
        raise ApiError(400, {"error": message})
    if not isinstance(spec, dict):
        bad("Survey spec must be an object.")
    for key in ("name", "description"):
        if key not in spec:
            bad("'%s' missing from survey spec." % key)
    if not isinstance(spec.get("spec"), list):
        bad("'spec' must be a list of items.")
    if not spec["spec"]:
        bad("'spec' doesn't contain any items.")
    seen = set()
    for index, question in enumerate(spec["spec"]):
        if not isinstance(question, dict):
            bad("Survey question %d is not a json object." % index)
        for key in ("type", "question_name", "variable", "required"):
            if key not in question:
                bad("'%s' missing from survey question %d." % (key, index))
        if question["type"] not in SURVEY_TYPES:
            bad("'%s' in survey question %d is not one of '%s' allowed question types."
                % (question["type"], index, ", ".join(sorted(SURVEY_TYPES))))
        if question["variable"] in seen:
            bad("'variable' '%s' duplicated in survey question %d." % (question["variable"], index))
        seen.add(question["variable"])
        default = question.get("default")
        if question["type"] in ("multiplechoice", "multiselect"):
            choices = question.get("choices")
            if isinstance(choices, str):
                choices = choices.split("\n")
            if not isinstance(choices, list) or not choices:
                bad("Survey question %d of type %s must have choices." % (index, question["type"]))
            defaults = default.split("\n") if isinstance(default, str) and question["type"] == "multiselect" else [default]
            for value in defaults:
                if value not in (None, "") and value not in choices:
                    bad("Default choice must be answered from the choices listed.")
        if question["type"] == "integer" and default not in (None, "") and not isinstance(default, int):
            bad("Value %s for '%s' expected to be of type integer." % (default, question["variable"]))
        if question["type"] in ("text", "textarea", "password") and default is not None and not isinstance(default, str):
            bad("Value %s for '%s' expected to be a string." % (default, question["variable"]))


class Store:
    """The objects, by kind; one lock, since the server is threaded."""

    def __init__(self, user: str, password: str, scm_dirs: Dict[str, str]) -> None:
        self.user, self.password, self.scm_dirs = user, password, scm_dirs
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.objects: Dict[str, Dict[int, Dict[str, Any]]] = {kind: {} for kind in DEFAULTS}
        self.tokens: Dict[int, str] = {}
        self.surveys: Dict[int, Dict[str, Any]] = {}
        self.jt_credentials: Dict[int, List[int]] = {}
        self.project_content: Dict[int, Tuple[List[str], List[str]]] = {}
        self.requests: List[Tuple[str, str]] = []
        self.jobs: Dict[int, Dict[str, Any]] = {}
        self.insert("organizations", {"name": "Default"})
        self.insert("credential_types", {"name": "Machine", "kind": "ssh", "namespace": "ssh", "managed": True})
        self.insert("credential_types", {"name": "Source Control", "kind": "scm", "namespace": "scm", "managed": True})
        self.insert("credential_types", {"name": "OpenStack", "kind": "cloud", "namespace": "openstack", "managed": True,
                                         "inputs": OPENSTACK_INPUTS})

    # -- objects -------------------------------------------------------------------------------
    def insert(self, kind: str, fields: Dict[str, Any]) -> Dict[str, Any]:
        ident = next(self.ids)
        item = dict(DEFAULTS[kind])
        item.update(fields)
        item.update(id=ident, type=TYPE_NAMES[kind], url="%s%s/%d/" % (API, kind, ident), created=now(), modified=now())
        self.objects[kind][ident] = item
        return item

    def get(self, kind: str, ident: int) -> Dict[str, Any]:
        item = self.objects.get(kind, {}).get(ident)
        if item is None:
            raise ApiError(404, {"detail": "Not found."})
        return item

    def render(self, kind: str, item: Dict[str, Any]) -> Dict[str, Any]:
        out = json.loads(json.dumps(item))
        url = item["url"]
        out["related"] = {}
        out["summary_fields"] = {}
        for field, target in FOREIGN_KEYS.items():
            if field in item and item[field] is not None:
                ref = self.objects[target].get(item[field])
                if ref is not None:
                    out["related"][field] = ref["url"]
                    out["summary_fields"][field] = {"id": ref["id"], "name": ref["name"]}
        if kind == "credentials":
            ctype = self.objects["credential_types"][item["credential_type"]]
            secret = {f["id"] for f in ctype["inputs"].get("fields", []) if f.get("secret")}
            out["inputs"] = {k: (ENCRYPTED if k in secret and v not in ("", None) else v) for k, v in item["inputs"].items()}
            out["kind"] = ctype["namespace"]
            out["cloud"] = ctype["kind"] == "cloud"
        if kind == "projects":
            out["related"].update(update=url + "update/", playbooks=url + "playbooks/", inventories=url + "inventory_files/",
                                  project_updates=url + "project_updates/")
        if kind == "job_templates":
            out["related"].update(survey_spec=url + "survey_spec/", credentials=url + "credentials/",
                                  labels=url + "labels/", launch=url + "launch/")
            out["summary_fields"]["credentials"] = [
                {"id": c, "name": self.objects["credentials"][c]["name"]} for c in self.jt_credentials.get(item["id"], [])]
        if kind == "inventory_sources":
            out["related"]["update"] = url + "update/"
        return out

    def check_fields(self, kind: str, data: Dict[str, Any], existing: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        allowed = set(DEFAULTS[kind]) | {"name"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            # AWX ignores read-only and unknown fields silently: report them to the test instead of hiding them.
            sys.stderr.write("fake_controller: %s ignores fields %s\n" % (kind, unknown))
        fields = {k: v for k, v in data.items() if k in allowed}
        for field, target in FOREIGN_KEYS.items():
            if fields.get(field) is not None:
                if not isinstance(fields[field], int) or fields[field] not in self.objects[target]:
                    raise ApiError(400, {field: ['Invalid pk "%s" - object does not exist.' % fields[field]]})
        if kind == "inventories" and fields.get("kind", "") is None:
            fields["kind"] = ""  # the modules send kind: null for a plain inventory
        merged = dict(existing or {}, **fields)
        if not merged.get("name"):
            raise ApiError(400, {"name": ["This field is required."]})
        getattr(self, "check_" + kind, lambda merged, fields: None)(merged, fields)
        return fields

    def check_credentials(self, merged: Dict[str, Any], fields: Dict[str, Any]) -> None:
        if merged.get("credential_type") is None:
            raise ApiError(400, {"credential_type": ["This field is required."]})
        ctype = self.objects["credential_types"][merged["credential_type"]]
        known = {f["id"] for f in ctype["inputs"].get("fields", [])}
        inputs = fields.get("inputs")
        if inputs is not None:
            for key in inputs:
                if key not in known:
                    raise ApiError(400, {"inputs": {key: ["Additional properties are not allowed ('%s' was unexpected)" % key]}})
            for key in ctype["inputs"].get("required", []):
                if inputs.get(key) in (None, ""):
                    raise ApiError(400, {"inputs": {key: ["required for %s" % ctype["name"]]}})
            old = merged.get("inputs") or {}
            # "$encrypted$" sent back keeps the stored secret, as in AWX.
            fields["inputs"] = {k: (old.get(k) if v == ENCRYPTED else v) for k, v in inputs.items()}

    def check_projects(self, merged: Dict[str, Any], fields: Dict[str, Any]) -> None:
        if merged.get("scm_type") and not merged.get("scm_url"):
            raise ApiError(400, {"scm_url": ["SCM URL is required."]})
        if merged.get("scm_type") and merged["scm_url"] not in self.scm_dirs:
            raise ApiError(400, {"scm_url": ["fake controller: no checkout known for %s" % merged["scm_url"]]})

    def check_inventory_sources(self, merged: Dict[str, Any], fields: Dict[str, Any]) -> None:
        if merged.get("inventory") is None:
            raise ApiError(400, {"inventory": ["This field is required."]})
        if merged.get("source") == "scm":
            if merged.get("source_project") is None:
                raise ApiError(400, {"source_project": ["Project required for scm type sources."]})
            inventory_files = self.project_content.get(merged["source_project"], ([], []))[1]
            if merged.get("source_path") not in inventory_files:
                raise ApiError(400, {"source_path": ["%r is not an inventory file of the project (%s)"
                                                     % (merged.get("source_path"), ", ".join(inventory_files))]})
        if merged.get("credential") is not None:
            cred = self.objects["credentials"][merged["credential"]]
            if self.objects["credential_types"][cred["credential_type"]]["kind"] != "cloud":
                raise ApiError(400, {"credential": ["Credential kind must be a cloud kind for an inventory source."]})

    def check_job_templates(self, merged: Dict[str, Any], fields: Dict[str, Any]) -> None:
        if merged.get("job_type") not in ("run", "check"):
            raise ApiError(400, {"job_type": ['"%s" is not a valid choice.' % merged.get("job_type")]})
        if merged.get("project") is None:
            raise ApiError(400, {"project": ["This field is required."]})
        if merged.get("inventory") is None and not merged.get("ask_inventory_on_launch"):
            raise ApiError(400, {"inventory": ["Job Templates must have an inventory or allow prompting for it."]})
        playbooks = self.project_content.get(merged["project"], ([], []))[0]
        if merged.get("playbook") not in playbooks:
            raise ApiError(400, {"playbook": ["Playbook not found for project."]})
        if not isinstance(merged.get("job_slice_count"), int) or merged["job_slice_count"] < 1:
            raise ApiError(400, {"job_slice_count": ["Ensure this value is greater than or equal to 1."]})

    def launch(self, template: Dict[str, Any], data: Dict[str, Any]) -> Dict[str, Any]:
        extra = data.get("extra_vars") or {}
        if isinstance(extra, str):
            try:
                extra = json.loads(extra or "{}")
            except ValueError:
                raise ApiError(400, {"extra_vars": ["Must be a valid JSON or YAML dictionary."]}) from None
        if not isinstance(extra, dict):
            raise ApiError(400, {"extra_vars": ["Must be a valid JSON or YAML dictionary."]})
        questions = {q["variable"]: q for q in self.surveys.get(template["id"], {}).get("spec", [])} \
            if template["survey_enabled"] else {}
        if template["ask_variables_on_launch"]:
            accepted, ignored = dict(extra), {}
        else:
            accepted = {k: v for k, v in extra.items() if k in questions}
            ignored = {k: v for k, v in extra.items() if k not in questions}
        needed = ["'%s' value missing" % name for name, q in questions.items()
                  if q.get("required") and name not in accepted and q.get("default") in (None, "")]
        if needed:
            raise ApiError(400, {"variables_needed_to_start": needed})
        answers = {name: q["default"] for name, q in questions.items() if q.get("default") not in (None, "")}
        answers.update(accepted)
        ident = next(self.ids)
        job = {"id": ident, "type": "job", "url": "%sjobs/%d/" % (API, ident), "name": template["name"],
               "job_template": template["id"], "launch_type": "manual", "status": "pending", "failed": False,
               "extra_vars": json.dumps(answers), "created": now()}
        self.jobs[ident] = job
        return dict(job, job=ident, ignored_fields={"extra_vars": ignored} if ignored else {})

    def project_update(self, project: Dict[str, Any]) -> Dict[str, Any]:
        directory = self.scm_dirs[project["scm_url"]]
        content = project_files(directory)
        self.project_content[project["id"]] = content
        revision = hashlib.sha1(json.dumps(content).encode()).hexdigest()
        project.update(scm_revision=revision, status="successful")
        return self.insert("project_updates", {"name": project["name"], "project": project["id"], "status": "successful",
                                               "failed": False, "finished": now(), "scm_revision": revision})


class Handler(BaseHTTPRequestHandler):
    store: Store

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        sys.stderr.write("fake_controller: %s\n" % (format % args))

    def reply(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-API-Product-Name", "AWX")
        self.send_header("X-API-Product-Version", VERSION)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> Dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        try:
            return json.loads(self.rfile.read(length))
        except ValueError:
            raise ApiError(400, {"detail": "JSON parse error"}) from None

    def basic_ok(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, dummy, password = base64.b64decode(header[6:]).decode().partition(":")
        return (user, password) == (self.store.user, self.store.password)

    def bearer_ok(self) -> bool:
        header = self.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.store.tokens.values()

    def handle_any(self, method: str) -> None:
        parsed = urlparse(self.path)
        path = parsed.path if parsed.path.endswith("/") else parsed.path + "/"
        store = self.store
        try:
            with store.lock:
                store.requests.append((method, path))
                status, body = self.route(method, path, dict(parse_qsl(parsed.query, keep_blank_values=True)))
        except ApiError as exc:
            status, body = exc.status, exc.body
        self.reply(status, body)

    def route(self, method: str, path: str, query: Dict[str, str]) -> Tuple[int, Any]:
        store = self.store
        if not path.startswith(API):
            raise ApiError(404, {"detail": "Not found."})
        parts = [p for p in path[len(API):].split("/") if p]
        if parts == ["ping"]:
            return 200, {"version": VERSION, "active_node": "fake", "ha": False, "instances": [], "instance_groups": []}
        if parts and parts[0] == "tokens":
            if not self.basic_ok():
                raise ApiError(401, {"detail": "Authentication credentials were not provided."})
            if method == "POST" and len(parts) == 1:
                ident = next(store.ids)
                store.tokens[ident] = secrets.token_hex(16)
                return 201, {"id": ident, "type": "o_auth2_access_token", "token": store.tokens[ident], "scope": "write"}
            if method == "DELETE" and len(parts) == 2 and int(parts[1]) in store.tokens:
                del store.tokens[int(parts[1])]
                return 204, None
            raise ApiError(404, {"detail": "Not found."})
        if parts == ["_state"]:
            state = {kind: list(items.values()) for kind, items in store.objects.items()}
            state["surveys"] = {str(k): v for k, v in store.surveys.items()}
            state["job_template_credentials"] = {str(k): v for k, v in store.jt_credentials.items()}
            state["open_tokens"] = len(store.tokens)
            state["jobs"] = list(store.jobs.values())
            state["project_files"] = {str(k): {"playbooks": v[0], "inventory_files": v[1]} for k, v in store.project_content.items()}
            return 200, state
        if not self.bearer_ok():
            raise ApiError(401, {"detail": "Authentication credentials were not provided."})
        if parts in (["me"], ["config"]):
            me = {"id": 1, "username": store.user, "is_superuser": True}
            return 200, {"count": 1, "next": None, "previous": None, "results": [me]} if parts == ["me"] else {"version": VERSION}
        if parts and parts[0] == "jobs" and len(parts) in (2, 3):
            return self.job(method, int(parts[1]), parts[2] if len(parts) == 3 else None)
        if not parts or parts[0] not in store.objects:
            raise ApiError(404, {"detail": "Not found."})
        kind = parts[0]
        if len(parts) == 1:
            if method == "GET":
                return 200, self.listing(kind, query)
            if method == "POST":
                fields = store.check_fields(kind, self.body(), None)
                item = store.insert(kind, fields)
                out_extra = {}
                if kind == "projects" and item.get("scm_type"):
                    update = store.project_update(item)
                    out_extra = {"id": update["id"], "name": update["name"], "status": update["status"], "failed": False}
                out = store.render(kind, item)
                if out_extra:
                    out["summary_fields"]["current_update"] = out_extra
                return 201, out
            raise ApiError(405, {"detail": 'Method "%s" not allowed.' % method})
        item = store.get(kind, int(parts[1]))
        if len(parts) == 2:
            if method == "GET":
                return 200, store.render(kind, item)
            if method in ("PATCH", "PUT"):
                fields = store.check_fields(kind, self.body(), item)
                item.update(fields, modified=now())
                return 200, store.render(kind, item)
            if method == "DELETE":
                del store.objects[kind][item["id"]]
                return 204, None
            raise ApiError(405, {"detail": 'Method "%s" not allowed.' % method})
        return self.sub_resource(method, kind, item, parts[2])

    def sub_resource(self, method: str, kind: str, item: Dict[str, Any], name: str) -> Tuple[int, Any]:
        store = self.store
        if kind == "projects" and name == "update" and method == "POST":
            update = store.project_update(item)
            return 202, dict(store.render("project_updates", update), project_update=update["id"])
        if kind == "projects" and name in ("playbooks", "inventory_files") and method == "GET":
            return 200, store.project_content.get(item["id"], ([], []))[0 if name == "playbooks" else 1]
        if kind == "job_templates" and name == "survey_spec":
            if method == "GET":
                return 200, store.surveys.get(item["id"], {})
            if method == "POST":
                spec = self.body()
                validate_survey(spec)
                store.surveys[item["id"]] = spec
                return 200, None
            if method == "DELETE":
                store.surveys.pop(item["id"], None)
                return 200, None
        if kind == "job_templates" and name == "launch" and method == "POST":
            return 201, store.launch(item, self.body())
        if kind == "job_templates" and name == "credentials":
            linked = store.jt_credentials.setdefault(item["id"], [])
            if method == "GET":
                results = [store.render("credentials", store.objects["credentials"][c]) for c in linked]
                return 200, {"count": len(results), "next": None, "previous": None, "results": results}
            if method == "POST":
                data = self.body()
                cred = store.get("credentials", int(data.get("id", 0)))
                if data.get("disassociate"):
                    linked.remove(cred["id"])
                elif cred["id"] not in linked:
                    ctype = store.objects["credential_types"][cred["credential_type"]]
                    clash = [c for c in linked
                             if store.objects["credentials"][c]["credential_type"] == cred["credential_type"]
                             and ctype["kind"] in ("ssh", "cloud")]
                    if clash:
                        raise ApiError(400, {"error": "Cannot assign multiple %s credentials." % ctype["name"]})
                    linked.append(cred["id"])
                return 204, None
        raise ApiError(404, {"detail": "Not found."})

    def job(self, method: str, ident: int, action: Optional[str]) -> Tuple[int, Any]:
        job = self.store.jobs.get(ident)
        if job is None:
            raise ApiError(404, {"detail": "Not found."})
        if action is None and method == "GET":
            return 200, job
        if action == "cancel" and method == "POST":
            if job["status"] not in ("new", "pending", "waiting", "running"):
                raise ApiError(405, {"error": "Job cannot be canceled."})
            job.update(status="canceled", failed=True)
            return 202, None
        raise ApiError(405, {"detail": 'Method "%s" not allowed.' % method})

    def listing(self, kind: str, query: Dict[str, str]) -> Dict[str, Any]:
        items = list(self.store.objects[kind].values())
        either = {k[4:]: v for k, v in query.items() if k.startswith("or__")}
        plain = {k: v for k, v in query.items() if not k.startswith("or__") and k not in ("page_size", "page", "order_by")}
        for key in list(either) + list(plain):
            if key not in DEFAULTS[kind] and key not in ("id", "name"):
                raise ApiError(400, {"detail": "invalid filter field %s" % key})

        def matches(item: Dict[str, Any], key: str, value: str) -> bool:
            return str(item.get(key)) == value if item.get(key) is not None else value in ("", "None")
        items = [i for i in items if all(matches(i, k, v) for k, v in plain.items())]
        if either:
            items = [i for i in items if any(matches(i, k, v) for k, v in either.items())]
        results = [self.store.render(kind, i) for i in items]
        return {"count": len(results), "next": None, "previous": None, "results": results}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.handle_any("GET")

    def do_POST(self) -> None:  # noqa: N802
        self.handle_any("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self.handle_any("PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        self.handle_any("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self.handle_any("DELETE")


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--scm", action="append", default=[], help="URL=DIR: the checkout of a project's scm_url")
    args = parser.parse_args(argv)
    scm_dirs = dict(item.split("=", 1) for item in args.scm)
    Handler.store = Store(args.user, args.password, scm_dirs)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("listening on %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
