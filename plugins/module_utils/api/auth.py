# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Who is calling the maintenance API: Keystone's auth_token middleware checks the token, the policy decides.

In front of the application, keystonemiddleware's auth_token validates each
X-Auth-Token with Keystone as the service's own user (the clouds.yaml entry
of FENIX_API_CLOUD) and caches the answer; it passes the caller on in the
X-Identity-Status, X-User-Id, X-Project-Id and X-Roles headers, having
removed any such header the client sent. It runs with delay_auth_decision,
so the application itself answers the 401s (in its own error format, and
not for the public endpoints). What a caller may do is the policy's
(api/policy.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Mapping, Optional

try:
    from keystoneauth1 import loading as keystoneauth_loading
    from keystonemiddleware import auth_token
    from oslo_config import cfg
    HAS_KEYSTONEMIDDLEWARE = True
except ImportError:
    HAS_KEYSTONEMIDDLEWARE = False  # app.build says which libraries the keystone mode needs

from ansible_collections.fenix.maintenance.plugins.module_utils.api.policy import ADMIN_RULE, PROJECT_RULE, Policy

ADMIN_ROLE = "admin"
# The WSGI environment key auth_token sets on every request it has seen, valid token or not.
MIDDLEWARE_MARK = "keystone.token_auth"
AUTHTOKEN_GROUP = "keystone_authtoken"


@dataclass(frozen=True)
class Caller:
    user_id: Optional[str]
    project_id: Optional[str]
    roles: FrozenSet[str]
    # None: nobody is checked (lab mode).
    policy: Optional[Policy] = field(default=None, compare=False, repr=False)

    @property
    def credentials(self) -> Dict[str, Any]:
        """The caller as oslo.policy's checks read it (role:, project_id:, user_id:); unknown ids left out."""
        credentials: Dict[str, Any] = {"roles": sorted(self.roles)}
        if self.user_id is not None:
            credentials["user_id"] = self.user_id
        if self.project_id is not None:
            credentials["project_id"] = self.project_id
        return credentials

    def may(self, rule: str, project_id: Optional[str] = None) -> bool:
        """Whether the policy's ``rule`` lets this caller act (for ``project_id``, when one is in question)."""
        return self.policy is None or self.policy.allows(rule, self.credentials, project_id)

    @property
    def is_admin(self) -> bool:
        return self.may(ADMIN_RULE)

    def may_act_for(self, project_id: Optional[str]) -> bool:
        return self.may(PROJECT_RULE, project_id)


# Lab mode: everyone is an admin. The service says so loudly when it starts.
NOBODY_CHECKED = Caller(user_id=None, project_id=None, roles=frozenset([ADMIN_ROLE]))


class Unauthorized(Exception):
    """No token, or one Keystone does not accept."""


def caller_of(environ: Mapping[str, Any], policy: Policy) -> Caller:
    """The caller of a request that went through auth_token (its WSGI environment)."""
    if MIDDLEWARE_MARK not in environ:
        # Never trust identity headers the middleware did not write: the client could have sent them.
        raise RuntimeError("the request did not pass keystonemiddleware's auth_token; serve the application"
                           " that app.build returns, which is wrapped in it")
    if not (environ.get("HTTP_X_AUTH_TOKEN") or "").strip():
        raise Unauthorized("X-Auth-Token: missing; send a Keystone token")
    if environ.get("HTTP_X_IDENTITY_STATUS") != "Confirmed":
        raise Unauthorized("X-Auth-Token: Keystone does not accept the token (or could not be asked: the"
                           " service log says which)")
    roles = (environ.get("HTTP_X_ROLES") or "").split(",")
    return Caller(user_id=environ.get("HTTP_X_USER_ID") or None, project_id=environ.get("HTTP_X_PROJECT_ID") or None,
                  roles=frozenset(role.strip() for role in roles if role.strip()), policy=policy)


def protect(app, cloud: str, token_ttl: float):
    """``app`` behind auth_token, which validates tokens as the service user of clouds.yaml entry ``cloud``."""
    middleware = auth_token.AuthProtocol(app, middleware_options(cloud, token_ttl))

    # A plain WSGI function: the middleware object's own signature is webob's decorator, which falcon's
    # test client cannot tell from an ASGI application.
    def application(environ, start_response):
        return middleware(environ, start_response)
    return application


def middleware_options(cloud: str, token_ttl: float) -> Dict[str, Any]:
    """auth_token's options: the cloud's credentials, endpoint interface, region and TLS, from clouds.yaml.

    The auth plugin's options go into a private oslo.config object of their own (as the
    ``[keystone_authtoken]`` section of a service's configuration file would hold them): the middleware
    takes only its own options from a dict, and reads no file and no command line here.
    """
    import openstack.config
    from openstack import exceptions
    try:
        region = openstack.config.OpenStackConfig().get_one(cloud=cloud)
    except (exceptions.ConfigException, TypeError) as exc:  # TypeError: an auth option its auth type does not take
        raise ValueError("FENIX_API_CLOUD: clouds.yaml entry %s: %s" % (cloud, exc))
    config = region.config
    auth = dict(config.get("auth") or {})
    auth_type = config.get("auth_type") or "password"
    conf = cfg.ConfigOpts()
    conf(args=[], project="fenix-maintenance-api", default_config_files=[], default_config_dirs=[])
    plugin_options = keystoneauth_loading.get_auth_plugin_conf_options(keystoneauth_loading.get_plugin_loader(auth_type))
    conf.register_opts(plugin_options, group=AUTHTOKEN_GROUP)
    # get_one has loaded the auth plugin with these options already, so each is one of the plugin's.
    for option in plugin_options:
        if option.dest in auth:
            conf.set_override(option.dest, auth[option.dest], group=AUTHTOKEN_GROUP)
    return {
        "oslo_config_config": conf,
        "auth_type": auth_type,
        # Where a refused client is told to get a token (the WWW-Authenticate header of a 401).
        "www_authenticate_uri": auth.get("auth_url"),
        "interface": region.get_interface() or "public",
        "region_name": region.region_name,
        "cafile": config.get("cacert"),
        "certfile": config.get("cert"),
        "keyfile": config.get("key"),
        "insecure": not config.get("verify", True),
        # The application answers the 401s itself, and lets the public endpoints through.
        "delay_auth_decision": True,
        "token_cache_time": int(token_ttl),
        "include_service_catalog": False,
        "service_token_roles_required": True,
    }
