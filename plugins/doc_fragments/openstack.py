# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The connection options, shared by every module (same as openstack.cloud).
    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - Named cloud or cloud config to operate against.
      - If O(cloud) is a string, it references a named cloud config as defined
        in an OpenStack clouds.yaml file. Provides default values for O(auth)
        and O(auth_type). This parameter is not needed if O(auth) is provided
        or if OpenStack OS_* environment variables are present.
      - If O(cloud) is a dict, it contains a complete cloud configuration like
        would be in a section of clouds.yaml.
    type: raw
  auth:
    description:
      - Dictionary containing auth information as needed by the cloud's auth
        plugin strategy. For the default V(password) plugin, this would contain
        C(auth_url), C(username), C(password), C(project_name) and any
        information about domains (for example, C(user_domain_name) or
        C(project_domain_name)) if the cloud supports them.
      - For other plugins, this param will need to contain whatever parameters
        that auth plugin requires. This parameter is not needed if a named
        cloud is provided or OpenStack OS_* environment variables are present.
    type: dict
  auth_type:
    description:
      - Name of the auth plugin to use. If the cloud uses something other than
        password authentication, the name of the plugin should be indicated
        here and the contents of the O(auth) parameter should be updated
        accordingly.
    type: str
  region_name:
    description:
      - Name of the region.
    type: str
  wait:
    description:
      - Should ansible wait until the requested resource is complete.
    type: bool
    default: true
  timeout:
    description:
      - How long should ansible wait for the requested resource, in seconds.
    type: int
    default: 180
  api_timeout:
    description:
      - How long should the socket layer wait before timing out for API calls.
        If this is omitted, nothing will be passed to the requests library.
    type: int
  validate_certs:
    description:
      - Whether or not SSL API requests should be verified.
      - Before Ansible 2.3 this defaulted to V(true).
    type: bool
    aliases: [verify]
  ca_cert:
    description:
      - A path to a CA Cert bundle that can be used as part of verifying
        SSL API requests.
    type: str
    aliases: [cacert]
  client_cert:
    description:
      - A path to a client certificate to use as part of the SSL transaction.
    type: str
    aliases: [cert]
  client_key:
    description:
      - A path to a client key to use as part of the SSL transaction.
    type: str
    aliases: [key]
  interface:
    description:
      - Endpoint URL type to fetch from the service catalog.
    type: str
    choices: [admin, internal, public]
    default: public
    aliases: [endpoint_type]
  sdk_log_path:
    description:
      - Path to the logfile of the OpenStackSDK. If empty no log is written.
    type: str
  sdk_log_level:
    description:
      - Log level of the OpenStackSDK.
    type: str
    default: INFO
    choices: [INFO, DEBUG]
  token_cache:
    description:
      - A directory where module runs keep the cloud's Keystone token, so that the next run uses it instead
        of authenticating again. Every module run is a process of its own; without it each one asks Keystone
        for a token and each service it calls validates that token again.
      - One file per set of credentials (named by a hash of keystoneauth's cache id, which covers the auth URL,
        user, project and secret), so other credentials never load it. The directory is created with mode
        0700 and each file is written 0600.
      - A kept token that expires within two minutes, or that a service refuses, is replaced by a new one.
        A file that cannot be read is ignored, and one that cannot be written is a warning.
      - Auth plugins without a cache id (a fixed token, no auth) keep nothing.
      - Empty the directory when the cloud's Keystone is rebuilt at the same URL with the same credentials, as
        in a lab. A token kept for the old cloud is refused and replaced at the first request, but what a module
        reads from the token before any request (the project's id) would be the old cloud's until it expires.
      - When not set, each module run authenticates on its own, as openstack.cloud's modules do. The role
        sets it (C(rolling_maintenance_token_cache)).
    type: path
requirements:
  - "python >= 3.8"
  - "openstacksdk >= 1.0.0"
notes:
  - The standard OpenStack environment variables, such as E(OS_USERNAME)
    may be used instead of providing explicit values.
  - Auth information is driven by openstacksdk, which means that values
    can come from a yaml config file in /etc/ansible/openstack.yaml,
    /etc/openstack/clouds.yaml or ~/.config/openstack/clouds.yaml, then from
    standard environment variables, then finally by explicit parameters in
    plays. More information can be found at
    U(https://docs.openstack.org/openstacksdk/).
  - The modules need an admin account of the cloud (they act on compute
    services and servers of every project).
"""

    # Options of the modules that migrate servers.
    MIGRATION = r"""
options:
  concurrency:
    description:
      - How many servers to migrate at a time in all, over every host (the overall cap); O(concurrency_per_host)
        and O(concurrency_per_target) limit each host within it.
      - Several migrations at a time are watched together - each poll lists the servers of each host a
        migration runs on (C(GET /servers/detail?host=...)) once, instead of reading every migrating server.
    type: int
    default: 1
  concurrency_per_host:
    description:
      - How many of the migrations at a time may leave one source host. A server waits only for a slot of its
        own host (and target), so servers of N hosts move up to N times this many at once, within O(concurrency).
      - Nova runs a compute's outgoing live migrations C(max_concurrent_live_migrations) at a time (1 by default)
        and queues the others. The default 2 keeps the next one queued in Nova, so it starts the moment the
        running one ends rather than at the next poll, and uses 2 where Nova allows more, without queues long
        enough to eat into a migration's timeout (which counts from its request). Set it to the computes'
        C(max_concurrent_live_migrations) (or one more) when that is higher.
    type: int
    default: 2
  concurrency_per_target:
    description:
      - How many of the migrations at a time may go to one target host, counted for the servers given a target
        (the scheduler's choice is not known in advance). The default 4, what two source hosts send at the
        default O(concurrency_per_host), keeps a plan that sends many servers to one host from landing them all
        at once on its network and disks.
    type: int
    default: 4
  retries:
    description:
      - How many times to retry a transient refusal of one server's migration
        (no valid host right after a change, a 409 conflict with a running task).
    type: int
    default: 3
  retry_delay:
    description:
      - Seconds before the first retry; each further retry waits twice as long.
    type: float
    default: 5
  poll_interval:
    description:
      - Seconds between two reads of a migrating server (or of the host, while waiting for it to be empty).
        With several migrations at a time, seconds between two polls, each listing once the servers of every
        host with a migration in flight.
    type: float
    default: 2
  on_timeout:
    description:
      - What to do with a live migration still running when its timeout is over, so that none is left
        running unattended.
      - V(abort) cancels it (compute microversion 2.24); the server stays on its source host, the
        migration is reported as failed with the server's state.
      - V(force_complete) forces it to finish (compute microversion 2.22; libvirt pauses the server
        until its memory is copied, or switches to post-copy when the compute allows it); the server
        ends on the target host and the migration counts as done. Nova forces only a running migration,
        so one still queued or preparing is aborted instead (compute microversion 2.65).
      - Either way the module then waits up to 2 minutes for the server to settle, and its result
        (C(timeout_action), C(server_state)) says what happened. Nova cannot stop a cold migration, so
        one past its timeout is reported with the server's status, task and host.
      - While a live migration runs, its progress (memory copied and remaining, from Nova's migration
        record) is read every 10 seconds at most, into the result's C(progress).
    type: str
    choices: [abort, force_complete]
    default: abort
"""

    # Module attributes: check mode, diff mode and the action group.
    ATTRIBUTES = r"""
attributes:
  action_group:
    description: Use C(group/fenix.maintenance.maintenance) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - fenix.maintenance.maintenance
"""

    # The modules that work on one session also belong to the group that carries session_id and
    # journal (meta/runtime.yml); Ansible merges attributes one level deep, so this is a variant of
    # ATTRIBUTES rather than an addition to it.
    SESSION_ATTRIBUTES = r"""
attributes:
  action_group:
    description:
      - Use C(group/fenix.maintenance.maintenance) in C(module_defaults) to set the connection options
        of this module, and C(group/fenix.maintenance.session) to set O(session_id) and O(journal).
    support: full
    membership:
      - fenix.maintenance.maintenance
      - fenix.maintenance.session
"""

    # The connection options of the inventory plugins: the same concepts as the
    # modules' (and openstack.cloud's inventory), without the module-only ones.
    INVENTORY = r"""
options:
  cloud:
    description:
      - Named cloud or cloud config to read.
      - If a string, the name of a cloud in a clouds.yaml file (see O(clouds_yaml_path)).
        Provides default values for O(auth) and O(auth_type). Not needed if O(auth)
        is given or OpenStack E(OS_*) environment variables are set.
      - If a dict, a complete cloud configuration like a section of clouds.yaml.
    type: raw
  clouds_yaml_path:
    description:
      - clouds.yaml files to search for O(cloud) before openstacksdk's usual
        locations (C(./clouds.yaml), C(~/.config/openstack/clouds.yaml),
        C(/etc/openstack/clouds.yaml)). The first file that exists is read.
      - openstacksdk reads E(OS_CLIENT_CONFIG_FILE) before all of these when it is set.
    type: list
    elements: str
  auth:
    description:
      - Dictionary of auth information as the cloud's auth plugin needs it. For the
        default V(password) plugin C(auth_url), C(username), C(password),
        C(project_name) and the domains (C(user_domain_name), C(project_domain_name)).
      - Keep passwords out of inventory files, prefer a named O(cloud) in clouds.yaml
        (with its password in C(secure.yaml)) or E(OS_*) environment variables.
    type: dict
  auth_type:
    description:
      - Name of the auth plugin when the cloud uses something other than password
        authentication; O(auth) then holds that plugin's parameters.
    type: str
  region_name:
    description:
      - Name of the region.
    type: str
  interface:
    description:
      - Endpoint URL type to fetch from the service catalog. The cloud's setting
        in clouds.yaml, or V(public), when not given.
    type: str
    choices: [admin, internal, public]
  validate_certs:
    description:
      - Whether SSL API requests should be verified. The cloud's setting when not given.
    type: bool
  ca_cert:
    description:
      - A path to a CA Cert bundle that can be used as part of verifying SSL API requests.
    type: str
  client_cert:
    description:
      - A path to a client certificate to use as part of the SSL transaction.
    type: str
  client_key:
    description:
      - A path to a client key to use as part of the SSL transaction.
    type: str
  api_timeout:
    description:
      - How long the socket layer waits for an API call, in seconds. No limit when not given.
    type: int
requirements:
  - "python >= 3.8"
  - "openstacksdk >= 1.0.0"
notes:
  - Auth information is driven by openstacksdk, values come from clouds.yaml,
    then from the standard E(OS_*) environment variables, then from the options
    above. More at U(https://docs.openstack.org/openstacksdk/).
  - An admin account of the cloud is needed (compute services and hypervisors are admin-only in Nova).
"""

    # The server_policy option of the modules that move servers off hosts.
    SERVER_POLICY = r"""
options:
  server_policy:
    description:
      - What to do with a server, by its status.
    type: dict
    default: {}
    suboptions:
      active:
        description: ACTIVE servers.
        type: str
        choices: [live, cold, skip, fail]
        default: live
      paused:
        description: PAUSED servers.
        type: str
        choices: [live, skip, fail]
        default: live
      shutoff:
        description: SHUTOFF servers.
        type: str
        choices: [cold, skip, fail]
        default: cold
      other:
        description:
          - Servers in any other status (ERROR, SUSPENDED, ...), which Nova cannot migrate.
          - V(skip) leaves them on the host, which then never becomes empty.
        type: str
        choices: [skip, fail]
        default: fail
"""
