# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The connection to the cloud: openstack.cloud's options, clouds.yaml and ``OS_*`` variables.

The options and their behaviour match openstack.cloud's ``OpenStackModule`` so
that playbooks, ``module_defaults`` and clouds.yaml files written for
openstack.cloud work unchanged.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import List, Optional

# Importing openstacksdk takes about a third of a second, at every task: it is imported when a connection is
# opened, so that the modules that only read or write the journal (most tasks of a run) do without it.
HAS_SDK = importlib.util.find_spec("openstack") is not None
SDK_IMPORT_ERROR = None if HAS_SDK else ImportError("No module named 'openstack'")  # reported by the module


def is_sdk_error(exc: BaseException, name: str = "SDKException") -> bool:
    """Whether ``exc`` is openstacksdk's exception ``name``; never when the SDK was not imported (nothing raised one)."""
    exceptions = sys.modules.get("openstack.exceptions")
    return exceptions is not None and isinstance(exc, getattr(exceptions, name))


def enable_sdk_logging(**kwargs) -> None:
    """openstacksdk's own logging set-up (``openstack.enable_logging``)."""
    import openstack

    openstack.enable_logging(**kwargs)


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
        token_cache=dict(type="path"),
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
    import openstack
    import openstack.connection

    kwargs = {key: value for key, value in connection_kwargs(params).items() if value is not None}
    if not config_files:
        return openstack.connect(**kwargs)
    # openstack.connect cannot be given clouds.yaml paths; this is what it
    # does inside, with the search path extended as openstack.cloud's inventory does.
    from openstack.config import loader

    config = loader.OpenStackConfig(config_files=list(config_files) + list(loader.CONFIG_FILES))
    return openstack.connection.Connection(config=config.get_one(**kwargs))
