# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The Fenix Host Maintenance API v1 as data: request schemas, routes and the OpenAPI document.

The service validates every body against these schemas and builds its
OpenAPI document from them, so the two cannot drift apart. The schemas are
JSON Schema 2020-12, the dialect of OpenAPI 3.1. Extra properties are
allowed everywhere because real clients send fields Fenix ignored
(session_id, instance_ids in replies).
"""

from __future__ import annotations

from typing import Dict, List

from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import (
    ANSWERED_ACTIONS,
    PLUGIN_TYPES,
    SESSION_STATES,
    WORKFLOWS,
)

API_VERSION = "v1"

_STATE_NAMES = "|".join(SESSION_STATES)
REPLY_PATTERN = "^(ACK|NACK)_(%s)$" % _STATE_NAMES
_ID = {"type": "string", "minLength": 1, "maxLength": 255}
_NULLABLE_INT = {"type": ["integer", "null"], "minimum": 0, "maximum": 2 ** 31 - 1}

CREATE_SESSION = {
    "type": "object",
    "properties": {
        "hosts": {"type": "array", "items": _ID, "maxItems": 100000},
        "state": {"type": "string", "enum": ["MAINTENANCE"]},
        "maintenance_at": {"type": ["string", "null"], "maxLength": 64},
        "workflow": {"type": "string", "enum": list(WORKFLOWS)},
        "metadata": {"type": "object"},
        "download": {"type": "array", "items": {"type": ["string", "object"]}},
        "actions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["plugin", "type"],
                "properties": {
                    "plugin": _ID,
                    "type": {"type": "string", "enum": list(PLUGIN_TYPES)},
                    "metadata": {"type": "object"},
                },
            },
        },
        "session_id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
    },
}

UPDATE_SESSION = {
    "type": "object",
    "properties": {
        "state": {"type": "string", "enum": list(SESSION_STATES)},
        "reason": {"type": "string", "maxLength": 1024},
    },
}

PROJECT_REPLY = {
    "type": "object",
    "required": ["state"],
    "properties": {
        "state": {"type": "string", "pattern": REPLY_PATTERN},
        "instance_actions": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "string", "enum": list(ANSWERED_ACTIONS)},
        },
    },
}

INSTANCE_REPLY = {
    "type": "object",
    "required": ["state"],
    "properties": {
        "state": {"type": "string", "pattern": REPLY_PATTERN},
        "instance_action": {"type": ["string", "null"], "enum": list(ANSWERED_ACTIONS) + [None]},
        # The project-level form a VNFM of the default workflow sends: the action named for this instance counts.
        "instance_actions": PROJECT_REPLY["properties"]["instance_actions"],
    },
}

INSTANCE_GROUP = {
    "type": "object",
    "properties": {
        "group_id": _ID,
        "project_id": _ID,
        "group_name": {"type": ["string", "null"], "maxLength": 255},
        "anti_affinity_group": {"type": "boolean"},
        "max_instances_per_host": _NULLABLE_INT,
        "max_impacted_members": _NULLABLE_INT,
        "recovery_time": _NULLABLE_INT,
        "resource_mitigation": {"type": "boolean"},
    },
}

INSTANCE = {
    "type": "object",
    "properties": {
        "instance_id": _ID,
        "project_id": _ID,
        "group_id": {"type": ["string", "null"], "maxLength": 255},
        "instance_name": {"type": ["string", "null"], "maxLength": 255},
        "max_interruption_time": _NULLABLE_INT,
        "migration_type": {"type": ["string", "null"], "enum": list(ANSWERED_ACTIONS) + [None]},
        "resource_mitigation": {"type": "boolean"},
        "lead_time": _NULLABLE_INT,
    },
}

_OBJECT = {"type": "object"}
_SESSION_ID_LIST = {"type": "object", "properties": {"session_id": {"type": "array", "items": {"type": "string"}}}}
_STATE = {"type": "object", "properties": {"state": {"type": "string"}}}
_INSTANCE_IDS = {"type": "object", "properties": {"instance_ids": {"type": "array", "items": {"type": "string"}}}}

# (method, path, operation, who, request schema, response schema); who is
# "public", "admin" or "project" (the project in the path, or an admin). A
# response that is not JSON is given by its media type (the run report's documents).
ROUTES = (
    ("get", "/", "versions", "public", None, _OBJECT),
    ("get", "/v1/openapi.json", "openapi", "public", None, _OBJECT),
    ("post", "/v1/maintenance", "create_session", "admin", CREATE_SESSION, {
        "type": "object", "properties": {"session_id": {"type": "string"}}}),
    ("get", "/v1/maintenance", "list_sessions", "admin", None, _SESSION_ID_LIST),
    ("get", "/v1/maintenance/{session_id}", "get_session", "admin", None, _STATE),
    ("put", "/v1/maintenance/{session_id}", "update_session", "admin", UPDATE_SESSION, _STATE),
    # The API reference's "update" of a session: the same as PUT.
    ("post", "/v1/maintenance/{session_id}", "update_session", "admin", UPDATE_SESSION, _STATE),
    ("delete", "/v1/maintenance/{session_id}", "delete_session", "admin", None, _OBJECT),
    ("get", "/v1/maintenance/{session_id}/detail", "get_session_detail", "admin", None, _OBJECT),
    ("get", "/v1/maintenance/{session_id}/report.json", "get_report_json", "admin", None, _OBJECT),
    ("get", "/v1/maintenance/{session_id}/report.html", "get_report_html", "admin", None, "text/html"),
    ("get", "/v1/maintenance/{session_id}/report.svg", "get_report_svg", "admin", None, "image/svg+xml"),
    ("get", "/v1/maintenance/{session_id}/report.md", "get_report_markdown", "admin", None, "text/markdown"),
    ("get", "/v1/maintenance/{session_id}/{project_id}", "get_project", "project", None, _INSTANCE_IDS),
    ("put", "/v1/maintenance/{session_id}/{project_id}", "reply_project", "project", PROJECT_REPLY, _OBJECT),
    ("put", "/v1/maintenance/{session_id}/{project_id}/{instance_id}", "reply_instance", "project",
     INSTANCE_REPLY, _OBJECT),
    ("get", "/v1/instance_group/{group_id}", "get_instance_group", "project", None, INSTANCE_GROUP),
    ("put", "/v1/instance_group/{group_id}", "set_instance_group", "project", INSTANCE_GROUP, INSTANCE_GROUP),
    ("delete", "/v1/instance_group/{group_id}", "delete_instance_group", "project", None, _OBJECT),
    ("get", "/v1/instance/{instance_id}", "get_instance", "project", None, INSTANCE),
    ("put", "/v1/instance/{instance_id}", "set_instance", "project", INSTANCE, INSTANCE),
    ("delete", "/v1/instance/{instance_id}", "delete_instance", "project", None, _OBJECT),
)

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "integer"}, "title": {"type": "string"}, "message": {"type": "string"}}}},
}

_ERRORS_BY_WHO = {
    "public": {},
    "admin": {"401": "No valid Keystone token", "403": "The token lacks the admin role"},
    "project": {"401": "No valid Keystone token", "403": "The token is scoped to another project"},
}


def openapi_document(server_url: str = "/") -> Dict:
    """The OpenAPI 3.1 document of the service."""
    paths: Dict[str, Dict] = {}
    seen = set()
    for method, path, operation, who, request, response in ROUTES:
        spec = _operation(path, operation, who, request, response)
        if operation in seen:  # operationIds are unique: the second method of one handler is named by its method
            spec["operationId"] = "%s_%s" % (operation, method)
        seen.add(operation)
        paths.setdefault(path, {})[method] = spec
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fenix.maintenance Host Maintenance API",
            "version": API_VERSION,
            "description": "Compatible with the Fenix Host Maintenance API v1. Admin endpoints need a"
                           " Keystone token with the admin role; project endpoints a token of that project.",
        },
        "servers": [{"url": server_url}],
        "components": {
            "securitySchemes": {"keystone": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}},
            "schemas": {"Error": _ERROR},
        },
        "paths": paths,
    }


def _operation(path: str, operation: str, who: str, request, response) -> Dict:
    if isinstance(response, str):
        content = {response: {"schema": {"type": "string"}}}
    else:
        content = {"application/json": {"schema": response}}
    responses = {"200": {"description": "OK", "content": content}}
    errors = dict(_ERRORS_BY_WHO[who])
    if "{" in path:
        errors["404"] = "Unknown session, project, instance or group"
    if request is not None:
        errors["400"] = "The body is not a JSON object that fits the schema"
        errors["413"] = "The body is longer than the service's size limit (FENIX_API_MAX_BODY, 1 MiB by default)"
    if operation in ("reply_project", "reply_instance", "update_session", "create_session", "delete_session"):
        errors["409"] = "The request does not fit the session's current state (or its run is going)"
    if operation in ("create_session", "update_session"):
        errors["502"] = "The Controller refused to launch the session's job (launcher controller)"
    for code, description in errors.items():
        responses[code] = {"description": description,
                           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    spec = {
        "operationId": operation,
        "parameters": [_path_parameter(name) for name in _path_names(path)],
        "responses": responses,
    }
    if who != "public":
        spec["security"] = [{"keystone": []}]
    if request is not None:
        spec["requestBody"] = {"required": True, "content": {"application/json": {"schema": request}}}
    return spec


def _path_names(path: str) -> List[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _path_parameter(name: str) -> Dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
