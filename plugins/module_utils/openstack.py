# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Connection to the cloud and the module contract shared by every module.

The options and their behaviour match openstack.cloud's ``OpenStackModule`` so
that playbooks, ``module_defaults`` and clouds.yaml files written for
openstack.cloud work unchanged.
"""

from __future__ import annotations

import logging
from importlib.metadata import version as installed_version
from typing import List, Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

MINIMUM_SDK_VERSION = "1.0.0"

try:
    import openstack
    from openstack import exceptions as sdk_exceptions

    HAS_SDK = True
    SDK_IMPORT_ERROR = None
except ImportError as exc:  # reported by the module, not at import time
    openstack = None
    sdk_exceptions = None
    HAS_SDK = False
    SDK_IMPORT_ERROR = exc

# Options that configure the connection; passing them together with a full
# cloud dict would be ambiguous, so that is refused (as openstack.cloud does).
CONNECTION_OPTIONS = (
    "auth",
    "region_name",
    "validate_certs",
    "ca_cert",
    "client_key",
    "api_timeout",
    "auth_type",
)


def openstack_argument_spec() -> dict:
    """The common options of every module of the collection."""
    return dict(
        cloud=dict(type="raw"),
        auth_type=dict(),
        auth=dict(type="dict", no_log=True),
        region_name=dict(),
        validate_certs=dict(type="bool", aliases=["verify"]),
        ca_cert=dict(aliases=["cacert"]),
        client_cert=dict(aliases=["cert"]),
        client_key=dict(no_log=True, aliases=["key"]),
        wait=dict(default=True, type="bool"),
        timeout=dict(default=180, type="int"),
        api_timeout=dict(type="int"),
        interface=dict(
            default="public",
            choices=["public", "internal", "admin"],
            aliases=["endpoint_type"],
        ),
        sdk_log_path=dict(),
        sdk_log_level=dict(default="INFO", choices=["INFO", "DEBUG"]),
    )


def openstack_full_argument_spec(**kwargs) -> dict:
    spec = openstack_argument_spec()
    spec.update(kwargs)
    return spec


def connection_kwargs(params: dict) -> dict:
    """Arguments for ``openstack.connect`` from module parameters.

    Raises ValueError when a full cloud dict is combined with separate
    connection options.
    """
    cloud = params.get("cloud")
    if isinstance(cloud, dict):
        given = [name for name in CONNECTION_OPTIONS if params.get(name) is not None]
        if given:
            raise ValueError(
                "cloud: a cloud dict was given together with %s; put those settings"
                " inside the cloud dict or pass the cloud by name" % ", ".join(given)
            )
        return dict(cloud)
    return dict(
        cloud=cloud,
        auth_type=params.get("auth_type"),
        auth=params.get("auth"),
        region_name=params.get("region_name"),
        verify=params.get("validate_certs"),
        cacert=params.get("ca_cert"),
        key=params.get("client_key"),
        cert=params.get("client_cert"),
        api_timeout=params.get("api_timeout"),
        interface=params.get("interface"),
    )


def connect(params: dict, config_files: Optional[List[str]] = None):
    """Open an openstacksdk connection from module-style parameters.

    ``openstack.connect`` also reads ``OS_*`` variables and clouds.yaml from
    its usual search path, so every way openstack.cloud accepts works here.
    ``config_files`` (the inventory's ``clouds_yaml_path``) are searched
    before that path; openstacksdk still reads ``OS_CLIENT_CONFIG_FILE`` first.
    """
    kwargs = {key: value for key, value in connection_kwargs(params).items() if value is not None}
    if not config_files:
        return openstack.connect(**kwargs)
    # openstack.connect cannot be given clouds.yaml paths; this is what it
    # does inside, with the search path extended as openstack.cloud's inventory does.
    from openstack.config import loader

    config = loader.OpenStackConfig(config_files=list(config_files) + list(loader.CONFIG_FILES))
    return openstack.connection.Connection(config=config.get_one(**kwargs))


def _version_tuple(version: str) -> tuple:
    parts = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


class OpenStackModule:
    """Base of every module: options, connection, errors.

    A subclass sets ``argument_spec`` (its own options), ``module_kwargs``
    (AnsibleModule keyword arguments) and implements ``run()``, which returns
    the result dict. ``main()`` is ``XModule()()``.
    """

    argument_spec: dict = {}
    module_kwargs: dict = {}

    def __init__(self) -> None:
        self.ansible = AnsibleModule(
            openstack_full_argument_spec(**self.argument_spec), **self.module_kwargs
        )
        self.params = self.ansible.params
        self.check_mode = self.ansible.check_mode
        self.diff_mode = self.ansible._diff
        self.exit_json = self.ansible.exit_json
        self.fail_json = self.ansible.fail_json
        self.warn = self.ansible.warn
        self._conn = None

    @property
    def conn(self):
        """The cloud connection, opened on first use (a module that only reads
        the journal never needs one)."""
        if self._conn is None:
            self._require_sdk()
            self._setup_sdk_logging()
            self._conn = self.openstack_cloud_from_module()
        return self._conn

    def _require_sdk(self) -> None:
        if not HAS_SDK:
            self.fail_json(msg=missing_required_lib("openstacksdk"), exception=str(SDK_IMPORT_ERROR))
        version = installed_version("openstacksdk")
        if _version_tuple(version) < _version_tuple(MINIMUM_SDK_VERSION):
            self.fail_json(
                msg="openstacksdk %s is too old: this collection needs >= %s; upgrade it with pip"
                % (version, MINIMUM_SDK_VERSION)
            )

    def _setup_sdk_logging(self) -> None:
        if self.params["sdk_log_path"]:
            openstack.enable_logging(
                debug=self.params["sdk_log_level"] == "DEBUG",
                path=self.params["sdk_log_path"],
            )
        else:
            logging.getLogger("openstack").addHandler(logging.NullHandler())

    def openstack_cloud_from_module(self):
        try:
            return connect(self.params)
        except ValueError as exc:
            self.fail_json(msg=str(exc))
        except sdk_exceptions.SDKException as exc:
            self.fail_json(msg="cannot connect to the cloud: %s" % exc)

    def run(self) -> dict:
        raise NotImplementedError

    def __call__(self) -> None:
        try:
            result = self.run()
        except sdk_exceptions.HttpException as exc:
            self.fail_json(
                msg=str(exc),
                extra_data={
                    "url": getattr(exc, "url", None),
                    "http_status": getattr(exc, "status_code", None),
                    "details": getattr(exc, "details", None),
                },
            )
        except sdk_exceptions.SDKException as exc:
            self.fail_json(msg=str(exc))
        self.exit_json(**result)
