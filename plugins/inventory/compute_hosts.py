# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: compute_hosts
short_description: Nova compute hosts as Ansible hosts
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - Every host that runs a nova-compute service becomes an Ansible host named
    as Nova names it (the service's C(host)), grouped by service state,
    availability zone and host aggregate, with what Nova knows of it in the
    host variable C(fenix_compute).
  - Reads the cloud with three list calls (compute services, hypervisors at
    microversion 2.53, aggregates) however many hosts and servers there are;
    with O(cache) a fresh cache answers without any call.
  - "Groups, all children of C(compute_hosts): C(compute_enabled) and
    C(compute_disabled) (service status, every host is in one of them),
    C(compute_down) (service state down, forced down included),
    C(maintenance_disabled) (disabled by this collection: its C(disabled_reason)
    starts with C(fenix.maintenance)), C(az_<zone>) and C(aggregate_<name>).
    Zone and aggregate names go through Ansible's group name sanitation
    (characters not valid in a group name become C(_))."
  - "The host variable C(fenix_compute) is a dict: C(host), C(service_id),
    C(status) (V(enabled)/V(disabled)), C(state) (V(up)/V(down)),
    C(disabled_reason), C(disabled_by_us) (disabled by this collection),
    C(forced_down), C(availability_zone), C(aggregates) (names),
    C(hypervisor_id) (also the Placement resource provider UUID),
    C(hypervisor_hostname), C(hypervisor_state), C(hypervisor_status),
    C(host_ip), C(server_count) (Nova's C(running_vms): the instances on the
    host, stopped ones included) and C(usage) (C(vcpus), C(memory_mb),
    C(local_gb), each C({used, total}) as the hypervisor reports them, before
    allocation ratios). Hypervisor fields are V(null) for a service without a
    hypervisor record."
  - C(ansible_host) is not set, since the address Nova knows (C(host_ip)) is not
    always one Ansible can reach; set it with O(compose) when it is.
  - The configuration file must be named C(compute_hosts.yml) or C(compute_hosts.yaml),
    or end in C(.compute_hosts.yml) or C(.compute_hosts.yaml).
options:
  plugin:
    description:
      - The name of this plugin; marks the file as a source for it.
    required: true
    type: str
    choices: [fenix.maintenance.compute_hosts]
  hosts:
    description:
      - Only these hosts, as Nova names them; shell-style patterns such as
        V(compute1*) are allowed. All compute hosts when empty.
      - A name or pattern that matches no host is an error, so that a typo
        cannot give a play with nothing to do.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - fenix.maintenance.openstack.INVENTORY
notes:
  - "The groups, host names and C(fenix_compute) come from Nova at the time of
    the read (or of the cache); use O(cache_timeout) to bound how old a cached
    view may be, and C(ansible-inventory --flush-cache) or C(meta: refresh_inventory)
    to read again."
seealso:
  - module: fenix.maintenance.compute_host_info
    description: One or all hosts with Placement capacity and their servers.
"""

EXAMPLES = r"""
# maintenance.compute_hosts.yml: every compute host of the clouds.yaml entry "admin"
plugin: fenix.maintenance.compute_hosts
cloud: admin

---
# production.compute_hosts.yml: only some hosts, reachable by the address Nova
# knows, with more groups and a cache kept for ten minutes
plugin: fenix.maintenance.compute_hosts
cloud: production
clouds_yaml_path: [/etc/ansible/clouds.yaml]
hosts: ["compute-r1-*", "compute-r2-*"]
compose:
  ansible_host: fenix_compute.host_ip
  ansible_user: "'cloud-admin'"
groups:
  # empty hosts can be upgraded at once
  empty_hosts: fenix_compute.server_count == 0
keyed_groups:
  - key: fenix_compute.hypervisor_state
    prefix: hypervisor
  - key: fenix_compute.usage.vcpus.total
    prefix: vcpus
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/fenix-inventory
cache_timeout: 600
"""

import os
import sys

from ansible.errors import AnsibleParserError
from ansible.module_utils.basic import missing_required_lib
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.connection import (
    HAS_SDK,
    connect,
    enable_sdk_logging,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.inventory import (
    DISABLED_GROUP,
    DOWN_GROUP,
    ENABLED_GROUP,
    MAINTENANCE_GROUP,
    PARENT_GROUP,
    group_names,
    read_compute_hosts,
    select_hosts,
)

try:
    from keystoneauth1 import exceptions as auth_exceptions
    from openstack import exceptions as sdk_exceptions
except ImportError:  # they come with openstacksdk; HAS_SDK reports its absence
    auth_exceptions = None
    sdk_exceptions = None

HOSTVAR = "fenix_compute"
VALID_NAMES = ("compute_hosts.yml", "compute_hosts.yaml")
# Options handed to the connection, named as the modules name them.
CONNECTION_OPTIONS = (
    "cloud", "auth", "auth_type", "region_name", "interface",
    "validate_certs", "ca_cert", "client_cert", "client_key", "api_timeout",
)
# Groups made even when empty, so that a play on them finds nothing rather than an unknown pattern.
STATE_GROUPS = (ENABLED_GROUP, DISABLED_GROUP, DOWN_GROUP, MAINTENANCE_GROUP)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = "fenix.maintenance.compute_hosts"

    def verify_file(self, path) -> bool:
        name = os.path.basename(path)
        return super().verify_file(path) and (
            name in VALID_NAMES or name.endswith(tuple("." + valid for valid in VALID_NAMES))
        )

    def parse(self, inventory, loader, path, cache=True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        records = self._records(path, cache)
        try:
            records = select_hosts(records, self.get_option("hosts"))
        except LookupError as exc:
            raise AnsibleParserError(str(exc)) from None
        self._populate(records)

    def _records(self, path: str, cache: bool) -> list:
        """The host records: from the cache when allowed and fresh, else from the cloud.

        ``cache`` is false when Ansible is told to refresh (``--flush-cache``,
        ``meta: refresh_inventory``): then the cloud is read and the cache rewritten.
        """
        cache_key = self.get_cache_key(path)
        caching = self.get_option("cache")
        if caching and cache:
            try:
                return self._cache[cache_key]
            except KeyError:
                pass  # nothing cached yet, or expired
        records = self._read_cloud()
        if caching:
            self._cache[cache_key] = records
        return records

    def _read_cloud(self) -> list:
        if not HAS_SDK:
            raise AnsibleParserError(missing_required_lib("openstacksdk"))
        try:
            conn = self._connect()
            try:
                return read_compute_hosts(conn)
            finally:
                getattr(conn, "close", lambda: None)()
        except ValueError as exc:  # ambiguous connection options
            raise AnsibleParserError(str(exc)) from None
        except self._cloud_errors() as exc:
            raise AnsibleParserError(
                "%s: cannot read the compute hosts of cloud %r: %s. Check the options cloud"
                " (a clouds.yaml entry), clouds_yaml_path or OS_CLIENT_CONFIG_FILE, and auth;"
                " the account needs the admin role" % (self.NAME, self.get_option("cloud"), exc)
            ) from None

    @staticmethod
    def _cloud_errors() -> tuple:
        return (sdk_exceptions.SDKException, auth_exceptions.ClientException)

    def _connect(self):
        """An openstacksdk connection from the plugin's options (a seam for the unit tests)."""
        if self.display.verbosity > 3:
            # On stderr, so that ansible-inventory's JSON on stdout stays clean.
            enable_sdk_logging(debug=True, stream=sys.stderr)
        params = {name: self.get_option(name) for name in CONNECTION_OPTIONS}
        return connect(params, self.get_option("clouds_yaml_path"))

    def _populate(self, records: list) -> None:
        self.inventory.add_group(PARENT_GROUP)
        for name in STATE_GROUPS:
            self._add_child_group(name)
        strict = self.get_option("strict")
        for record in records:
            host = record["host"]
            self.inventory.add_host(host)
            # Nova's data may hold "{{": never let a template run from it.
            self.inventory.set_variable(host, HOSTVAR, wrap_var(record))
            for name in group_names(record):
                self.inventory.add_host(host, group=self._add_child_group(name))
            self._set_composite_vars(self.get_option("compose"), self._host_vars(host), host, strict=strict)
            # Groups see the composed variables too.
            host_vars = self._host_vars(host)
            self._add_host_to_composed_groups(self.get_option("groups"), host_vars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host_vars, host, strict=strict)

    def _add_child_group(self, name: str) -> str:
        group = self.inventory.add_group(self._sanitize_group_name(name))
        self.inventory.add_child(PARENT_GROUP, group)
        return group

    def _host_vars(self, host: str) -> dict:
        return self.inventory.get_host(host).get_vars()
