#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: maintenance_api
short_description: Run the maintenance API service in the background for a playbook run
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - Starts or stops the Fenix Host Maintenance API v1 service of the collection
    (the project API the VNFMs reply to, the admin API, the constraints API) as a
    background gunicorn process over the session journal.
  - This is the embedded way, for one playbook run on the controller. For a
    long-running service use the role C(fenix.maintenance.maintenance_api) with
    C(maintenance_api_mode=systemd).
  - A second start with the same settings finds the service running and changes
    nothing; a start with other settings restarts it.
  - The cloud options name the credentials of the service's own user, which
    validates the callers' Keystone tokens and enables hosts again when a
    session is deleted through the API. A cloud given by name is looked up by
    the service in clouds.yaml; other credentials are written to a private
    clouds.yaml (mode 0600) in O(run_dir).
  - With O(token_cache) (the role's run sets it), the service's cloud connection starts with the
    Keystone token the run's modules keep there, which the cloud's services have validated already,
    instead of a new one that each of them validates again at the service's first requests (the
    VNFMs' first constraints, checked against Nova).
options:
  state:
    description:
      - Whether the service should be running.
    type: str
    choices: [started, stopped]
    default: started
  collections_path:
    description:
      - The directory the collection is installed under (the one holding
        C(ansible_collections/fenix/maintenance)); the service imports its code from there.
      - The role computes it; give it when calling the module directly.
      - Required with O(state=started).
    type: path
  run_dir:
    description:
      - Directory for the service's state file, log and private clouds.yaml.
    type: path
    default: ~/.local/state/fenix.maintenance/api
  bind:
    description:
      - Address and port to listen on, as C(HOST:PORT). The VNFMs must reach it, as
        the notifications carry URLs built from it.
    type: str
    default: 127.0.0.1:12347
  auth_mode:
    description:
      - V(keystone) puts keystonemiddleware's C(auth_token) in front of the service, which checks every
        caller's C(X-Auth-Token) with Keystone as the service's user (validations are cached for the
        token's lifetime, at most O(token_ttl) seconds); then oslo.policy rules decide. By default a
        project token may only read and answer for its own project, and admin endpoints need the admin
        role (O(policy_file) changes them).
      - V(none) checks nothing and treats every caller as an admin. For labs only;
        the service logs a warning and adds an C(X-Fenix-Auth) header to every answer.
    type: str
    choices: [keystone, none]
    default: keystone
  token_ttl:
    description:
      - Longest time in seconds a token validation is trusted, so a revoked token stops working within it.
    type: int
    default: 300
  policy_file:
    description:
      - An oslo.policy file (YAML, rule name to check string) overriding the service's default rules
        (C(maintenance:admin), C(maintenance:project) and one C(maintenance:<operation>) rule per endpoint;
        the list is in the collection's C(docs/api.md)). Rules it does not name keep their defaults.
      - The service refuses to start when the file is missing or cannot be used, and reads it again
        when it changes. Only with O(auth_mode=keystone).
    type: path
  workers:
    description:
      - gunicorn worker processes.
    type: int
    default: 2
  threads:
    description:
      - Threads per worker (concurrent requests per worker).
    type: int
    default: 8
  catalog_url:
    description:
      - Register this URL (ending in C(/v1)) in the Keystone catalog as the public endpoint of
        service type C(maintenance) (name C(fenix)), where VNFMs written for Fenix look the
        API up. In the region of the cloud options (O(region_name)) when one is set.
      - Nothing is registered when omitted; the catalog is left as it is on O(state=stopped).
    type: str
  python:
    description:
      - Python interpreter that runs gunicorn; it needs gunicorn, falcon and jsonschema
        besides openstacksdk, and keystonemiddleware and oslo.policy with O(auth_mode=keystone).
        Defaults to the interpreter running this module.
    type: path
  launcher:
    description:
      - Who runs a maintenance session created with C(POST /v1/maintenance), or continued with
        C(PUT /v1/maintenance/{session_id}); C(DELETE) stops its run, waits for the migrations
        Nova still performs, enables the hosts the session disabled and deletes it.
      - Omitted, the service runs sessions with V(runner).
    type: dict
    suboptions:
      type:
        description:
          - V(runner) runs the collection's playbook C(fenix.maintenance.rolling_maintenance) for the
            session with ansible-runner on this host, in a process of its own that outlives the
            service; its private data directory (artifacts, job events, status) is
            O(launcher.runs_dir)/SESSION_ID, where a restarted service finds the run again. One run
            per session at a time.
          - V(controller) launches the AWX / Automation Controller job template
            O(launcher.controller_job_template) with the extra variable C(rolling_maintenance_session_id);
            the template must prompt for variables or ask for that variable in its survey, and its
            jobs must use this service's journal (PostgreSQL).
          - V(none) records the session and runs nothing; an operator runs it with
            C(ansible-playbook ... -e rolling_maintenance_session_id=SESSION_ID).
        type: str
        choices: [runner, controller, none]
        default: runner
      runs_dir:
        description:
          - Where the runner keeps one directory per session. Defaults to C(runs) beside a SQLite
            journal, C(~/.local/state/fenix.maintenance/runs) with a PostgreSQL one.
        type: path
      inventory:
        description:
          - The inventory of the runner's runs (the compute hosts and how to reach them).
          - Defaults to the inventory plugin C(fenix.maintenance.compute_hosts) over the service's cloud.
        type: path
      run_vars:
        description:
          - A YAML file of role variables for every run (C(rolling_maintenance_webhook), C(_bus),
            C(_reply_timeout), C(_actions), ...). The service sets the session id, the journal and
            its own URL (C(rolling_maintenance_api_mode=external)) itself.
        type: path
      controller_url:
        description:
          - Base URL of the Controller, for example C(https://awx.example.com).
        type: str
      controller_job_template:
        description:
          - Numeric id of the job template that runs the rolling maintenance.
        type: str
      controller_token:
        description:
          - OAuth2 token of a Controller user who may launch that job template.
        type: str
      controller_validate_certs:
        description:
          - Verify the Controller's TLS certificate.
        type: bool
        default: true
      controller_session_variable:
        description:
          - The extra variable the job template takes the session id in. The survey of the job template
            C(Fenix rolling maintenance - resume) of C(examples/awx_config_as_code) asks it as V(session_id);
            a template that prompts for variables and runs the collection's playbook takes
            V(rolling_maintenance_session_id).
        type: str
        default: session_id
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - fenix.maintenance.openstack
  - fenix.maintenance.journal
  - fenix.maintenance.openstack.ATTRIBUTES
attributes:
  platform:
    support: full
    platforms: all
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - O(timeout) is how long to wait for the service to answer after starting it (or to stop).
  - The service outlives the playbook run until stopped; stop it in an C(always) section.
requirements:
  - gunicorn
  - falcon
  - jsonschema
  - keystonemiddleware and oslo.policy (with O(auth_mode=keystone))
"""

EXAMPLES = r"""
- name: Run the API for this playbook run
  fenix.maintenance.maintenance_api:
    cloud: admin
    collections_path: "{{ playbook_dir }}/collections"
    bind: "{{ ansible_default_ipv4.address }}:12347"
  register: api

- name: Stop it again
  fenix.maintenance.maintenance_api:
    state: stopped
"""

RETURN = r"""
url:
  description: The API endpoint (ending in C(/v1)) to give to the notifications and the VNFMs.
  returned: always
  type: str
  sample: http://127.0.0.1:12347/v1
pid:
  description: Process ID of the gunicorn master (null when stopped).
  returned: always
  type: int
  sample: 4242
log_file:
  description: The service's log (access and errors).
  returned: always
  type: str
  sample: /root/.local/state/fenix.maintenance/api/api.log
catalog_changes:
  description: What was (or, in check mode, would be) changed in the Keystone catalog.
  returned: always
  type: list
  elements: str
  sample: ["create service fenix (maintenance)", "create public endpoint http://192.0.2.10:12347/v1"]
auth_mode:
  description: The authentication mode of the running service.
  returned: always
  type: str
  sample: keystone
"""

import json
import os

from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import LAUNCHERS, LaunchSettings
from ansible_collections.fenix.maintenance.plugins.module_utils.api.process import (
    ApiProcessError,
    ApiSettings,
    catalog_changes,
    check_settings,
    log_tail,
    register_in_catalog,
    running,
    start,
    stop,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.base import OpenStackModule
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.connection import connection_kwargs
from ansible_collections.fenix.maintenance.plugins.module_utils.processes import stop_pid

SERVICE_CLOUD = "fenix-api"


class MaintenanceApiModule(OpenStackModule):
    argument_spec = dict(
        state=dict(default="started", choices=["started", "stopped"]),
        collections_path=dict(type="path"),
        run_dir=dict(type="path", default="~/.local/state/fenix.maintenance/api"),
        bind=dict(default="127.0.0.1:12347"),
        auth_mode=dict(default="keystone", choices=["keystone", "none"]),
        token_ttl=dict(type="int", default=300, no_log=False),
        policy_file=dict(type="path"),
        workers=dict(type="int", default=2),
        threads=dict(type="int", default=8),
        python=dict(type="path"),
        catalog_url=dict(),
        launcher=dict(type="dict", options=dict(
            type=dict(default="runner", choices=list(LAUNCHERS)),
            runs_dir=dict(type="path"),
            inventory=dict(type="path"),
            run_vars=dict(type="path"),
            controller_url=dict(),
            controller_job_template=dict(),
            controller_token=dict(no_log=True),
            controller_validate_certs=dict(type="bool", default=True),
            controller_session_variable=dict(default="session_id"),
        )),
    )
    module_kwargs = dict(
        supports_check_mode=True,
        required_if=[("state", "started", ["collections_path"])],
    )
    uses_journal = True  # the service's journal; the module itself never opens it

    def run(self) -> dict:
        result = self.run_service()
        result["catalog_changes"] = []
        if self.params["state"] == "started" and self.params["catalog_url"]:
            url, region = self.params["catalog_url"], self.conn.config.get_region_name()
            if self.check_mode:
                result["catalog_changes"] = catalog_changes(self.conn, url, region)
            else:
                result["catalog_changes"] = register_in_catalog(self.conn, url, region)
            result["changed"] = result["changed"] or bool(result["catalog_changes"])
        return result

    def run_service(self) -> dict:
        params = self.params
        settings = self.settings()
        current = running(settings)
        if params["state"] == "stopped":
            if current and not self.check_mode:
                try:
                    stop(settings, params["timeout"])
                except OSError as exc:  # not an engine error: the message names the process
                    self.fail_json(msg="cannot stop the API service (pid %s): %s" % (current["pid"], exc))
            return dict(changed=current is not None, url=settings.url, pid=None,
                        log_file=settings.log_file, auth_mode=params["auth_mode"])
        for name in ("workers", "threads", "token_ttl"):
            if params[name] < 1:
                self.fail_json(msg="%s: %d is too small; give 1 or more" % (name, params[name]))
        check_settings(settings)
        if current and current.get("fingerprint") == settings.fingerprint:
            return dict(changed=False, url=settings.url, pid=current["pid"], log_file=settings.log_file,
                        auth_mode=params["auth_mode"])
        if self.check_mode:
            return dict(changed=True, url=settings.url, pid=None, log_file=settings.log_file, auth_mode=params["auth_mode"])
        if current:
            stop_pid(current["pid"], params["timeout"])
        try:
            state = start(settings, params["timeout"])
        except ApiProcessError as exc:
            # Why it did not start is in the service's log: the failure shows its end.
            self.fail_json(msg="%s\n%s" % (exc, log_tail(settings)), log_file=settings.log_file)
        return dict(changed=True, url=settings.url, pid=state["pid"], log_file=settings.log_file,
                    auth_mode=params["auth_mode"])

    def settings(self) -> ApiSettings:
        params = self.params
        run_dir = params["run_dir"]  # type path: already expanded
        cloud, clouds_yaml = None, None
        if params["auth_mode"] == "keystone":
            cloud, clouds_yaml = self.service_credentials(run_dir)
        settings = ApiSettings(
            collections_path=params["collections_path"] or "",
            run_dir=run_dir,
            journal=self.journal_location,
            bind=params["bind"],
            auth=params["auth_mode"],
            cloud=cloud,
            clouds_yaml=clouds_yaml,
            workers=params["workers"],
            threads=params["threads"],
            token_ttl=params["token_ttl"],
            policy_file=params["policy_file"],
            token_cache=params["token_cache"] if cloud else None,
        )
        if params["python"]:
            settings.python = params["python"]
        launcher = dict(params["launcher"] or {"type": "runner"})
        settings.launch = LaunchSettings(kind=launcher.pop("type"), **{k: v for k, v in launcher.items() if v is not None})
        return settings

    def service_credentials(self, run_dir: str):
        """(cloud name, clouds.yaml path or None) for the service's own user."""
        params = self.params
        kwargs = connection_kwargs(params)
        cloud = kwargs.pop("cloud", None)
        explicit = {key: value for key, value in kwargs.items()
                    if value is not None and key != "interface"}
        if isinstance(cloud, str) and not explicit:
            return cloud, os.environ.get("OS_CLIENT_CONFIG_FILE")
        if not explicit:
            return None, None
        if self.check_mode:
            return SERVICE_CLOUD, os.path.join(run_dir, "clouds.yaml")
        os.makedirs(run_dir, mode=0o700, exist_ok=True)
        path = os.path.join(run_dir, "clouds.yaml")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            # JSON is YAML, and needs no YAML library in the module.
            json.dump({"clouds": {SERVICE_CLOUD: dict(explicit, interface=kwargs.get("interface"))}}, handle)
        return SERVICE_CLOUD, path


def main() -> None:
    MaintenanceApiModule()()


if __name__ == "__main__":
    main()
