"""Keystone for the API's unit tests and its auth bench: tokens as keystonemiddleware's auth_token sees them.

``issued(tokens)`` is keystonemiddleware's own AuthTokenFixture with those
tokens: auth_token then answers from it without asking anyone.
``service_clouds_yaml`` writes the clouds.yaml entry of the service user
that auth_token is configured from.

``KeystoneServer`` is a local Keystone v3 stand-in that issues and validates
tokens over HTTP, for what the fixture skips (auth_token's cache and its
conversation with Keystone): the version document (discovery), POST
/v3/auth/tokens for the service user's own token (with a catalog whose
identity endpoint is this server), GET /v3/auth/tokens with X-Subject-Token
for a caller's token (404 for one it did not issue). The bodies are
keystoneauth1's own fixtures of Keystone's answers; ``validations`` counts
the GET /v3/auth/tokens it answered.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple

from keystoneauth1 import fixture
from keystonemiddleware.fixture import AuthTokenFixture

SERVICE_USER = ("fenix", "secret", "service")  # username, password, project name
SERVICE_TOKEN = "service-token"
# Never asked with the fixture (and .invalid never resolves): a request that reached it would fail.
NOWHERE = "http://keystone.invalid:5000/v3"


@contextlib.contextmanager
def issued(tokens: Dict[str, Tuple[str, List[str]]], expires: Optional[datetime.datetime] = None):
    """auth_token accepts these tokens (token -> (project id, role names)), and no other."""
    with AuthTokenFixture() as tokens_fixture:
        for token_id, (project_id, roles) in tokens.items():
            tokens_fixture.add_token_data(token_id=token_id, project_id=project_id, user_id="u-" + project_id,
                                          role_list=roles, expires=expires)
        yield tokens_fixture


def service_clouds_yaml(directory: str, cloud: str = "test", auth_url: str = NOWHERE) -> str:
    """Write ``directory``/clouds.yaml with the service user's entry ``cloud``; its path."""
    username, password, project = SERVICE_USER
    path = os.path.join(str(directory), "clouds.yaml")
    with open(path, "w") as handle:
        json.dump({"clouds": {cloud: {
            "auth": {"auth_url": auth_url, "username": username, "password": password, "project_name": project,
                     "user_domain_name": "Default", "project_domain_name": "Default"},
            "region_name": "RegionOne", "interface": "public", "identity_api_version": "3"}}}, handle)
    return path


class KeystoneServer:
    """``with KeystoneServer({"a-token": ("pa", ["member"])}) as keystone:``, then ``keystone.clouds_yaml(dir)``."""

    def __init__(self, tokens: Dict[str, Tuple[str, List[str]]], lifetime: float = 3600.0) -> None:
        self.tokens = dict(tokens)
        self.lifetime = lifetime
        self.validations = 0
        self.service_logins = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's name)
                path = self.path.split("?")[0].rstrip("/")
                if path in ("", "/v3"):
                    return self._answer(200, owner._discovery(path))
                if path == "/v3/auth/tokens":
                    if self.headers.get("X-Auth-Token") != SERVICE_TOKEN:  # only the service user validates
                        return self._answer(401, {"error": {"code": 401, "message": "not the service user"}})
                    return self._answer(*owner._validate(self.headers.get("X-Subject-Token")))
                return self._answer(404, {"error": {"code": 404, "message": path}})

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.split("?")[0] != "/v3/auth/tokens":
                    return self._answer(404, {})
                status, answer, token_id = owner._login(body)
                return self._answer(status, answer, {"X-Subject-Token": token_id} if token_id else {})

            def _answer(self, status, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/v3" % self.server.server_address[1]

    def clouds_yaml(self, directory: str, cloud: str = "test") -> str:
        """Write ``directory``/clouds.yaml whose entry ``cloud`` is the service user of this Keystone; its path."""
        return service_clouds_yaml(directory, cloud, self.url)

    def _discovery(self, path: str) -> dict:
        if path == "/v3":
            return {"version": fixture.V3Discovery(self.url + "/")}
        return fixture.DiscoveryList(href=self.url.rsplit("/v3", 1)[0] + "/", v2=False)

    def _token(self, project_id: str, roles: List[str], user_id: Optional[str] = None) -> fixture.V3Token:
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=self.lifetime)
        token = fixture.V3Token(expires=expires, user_id=user_id or "u-" + project_id, project_id=project_id,
                                project_name=project_id, user_domain_id="default", project_domain_id="default")
        for role in roles:
            token.add_role(name=role)
        return token

    def _login(self, body: dict) -> Tuple[int, dict, Optional[str]]:
        password = body.get("auth", {}).get("identity", {}).get("password", {}).get("user", {})
        if (password.get("name"), password.get("password")) != SERVICE_USER[:2]:
            return 401, {"error": {"code": 401, "message": "The request you have made requires authentication."}}, None
        with self._lock:
            self.service_logins += 1
        token = self._token("service-project", ["service", "admin"], user_id="fenix-service-user")
        service = token.add_service("identity")
        service.add_standard_endpoints(public=self.url, internal=self.url, admin=self.url, region="RegionOne")
        return 201, token, SERVICE_TOKEN

    def _validate(self, token_id: Optional[str]) -> Tuple[int, dict]:
        with self._lock:
            self.validations += 1
        known = self.tokens.get(token_id or "")
        if known is None:
            return 404, {"error": {"code": 404, "message": "Could not find token: %s." % token_id}}
        return 200, self._token(*known)

    def __enter__(self) -> "KeystoneServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
