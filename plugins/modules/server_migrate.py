#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: server_migrate
short_description: Live or cold migrate servers to another compute host
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - Live migrates or cold migrates one server or a list of servers, to a
    chosen host or to wherever the Nova scheduler places them.
  - Waits until each migration has finished, confirms cold migrations, and
    retries Nova's transient refusals (no valid host right after a change,
    409 conflicts) with exponential backoff.
  - A live migration still running after O(timeout) is aborted or forced to
    complete, as O(on_timeout) says, and never left running unreported; while it
    runs, its progress is read from Nova's migration record.
  - Migrates several servers at a time up to O(concurrency), at most O(concurrency_per_host) from one
    host and O(concurrency_per_target) to the target, polling each host once per poll for all of them.
  - With O(from_host) or O(target_host), a server already off the source
    host or already on the target is left alone, so a second run changes nothing.
options:
  servers:
    description:
      - Names or IDs of the servers to migrate (of any project).
    type: list
    elements: str
    required: true
    aliases: [server]
  kind:
    description:
      - V(live) keeps the server running; V(cold) stops it, moves it and
        starts it again in its previous state.
    type: str
    choices: [live, cold]
    default: live
  target_host:
    description:
      - Host to move the servers to. The scheduler still checks it.
      - The scheduler chooses when not given.
    type: str
  target_fallback:
    description:
      - When O(target_host) fails a server's migration (its nova-compute went down, the scheduler finds no room
        there), the later attempts (O(retries)) let the scheduler choose, and RV(servers[].dropped_target) says so.
      - With V(false), every attempt asks for O(target_host).
    type: bool
    default: false
  from_host:
    description:
      - Move only servers that are on this host; the others are reported as
        skipped. Use it to make repeated runs idempotent.
    type: str
  block_migration:
    description:
      - Block migration for live migrations (V(auto) lets Nova choose).
    type: str
    choices: [auto, 'true', 'false']
    default: auto
  confirm:
    description:
      - Confirm a finished cold migration. Without confirmation the server
        stays in C(VERIFY_RESIZE) and holds resources on both hosts.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for one server's migration (each attempt) to finish;
        a live migration still running then is aborted or forced to complete (O(on_timeout)).
    type: int
    default: 600
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - fenix.maintenance.openstack
  - fenix.maintenance.openstack.MIGRATION
  - fenix.maintenance.openstack.ATTRIBUTES
attributes:
  platform:
    support: full
    platforms: all
  check_mode:
    support: full
    details: Reports which servers would move; nothing is migrated.
  diff_mode:
    support: full
    details: The host of each server before and after.
notes:
  - With O(wait=false) the module returns as soon as Nova has accepted each
    request; cold migrations are then not confirmed and no retry follows a
    failure that Nova reports later.
"""

EXAMPLES = r"""
- name: Live migrate two servers off compute1, wherever the scheduler likes
  fenix.maintenance.server_migrate:
    cloud: admin
    servers: [web-1, 0f8b7f28-50c4-4a0b-9fb3-2b1f0e7b7d11]
    from_host: compute1
    concurrency: 2

- name: Cold migrate a stopped server to compute3 and confirm
  fenix.maintenance.server_migrate:
    cloud: admin
    server: db-backup
    kind: cold
    target_host: compute3
  register: moved

- name: Where it went
  ansible.builtin.debug:
    msg: "{{ moved.servers[0].source }} -> {{ moved.servers[0].destination }}"
"""

RETURN = r"""
servers:
  description: One entry per server, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    server_id:
      description: ID of the server.
      type: str
      sample: 0f8b7f28-50c4-4a0b-9fb3-2b1f0e7b7d11
    name:
      description: Name of the server.
      type: str
      sample: web-1
    project_id:
      description: Project of the server.
      type: str
      sample: 5a1b0c7f2e8d4c0e9c9b3c0d2b1a0e9f
    kind:
      description: V(live) or V(cold).
      type: str
      sample: live
    source:
      description: Host before the migration.
      type: str
      sample: compute1
    destination:
      description: Host after the migration (null when not migrated or not waited for).
      type: str
      sample: compute3
    status:
      description:
        - V(migrated), V(requested) (O(wait=false)), V(would_migrate) (check mode),
          V(skipped) (already where asked) or V(failed).
      type: str
      sample: migrated
    attempts:
      description: How many times the migration was requested.
      type: int
      sample: 1
    duration:
      description: Seconds from the first request until the server settled.
      type: float
      sample: 8.41
    error:
      description: Why the migration failed (null on success).
      type: str
      sample: null
    timeout_action:
      description:
        - What was done with a migration still running after O(timeout) (null when it finished in time) -
          V(aborted) (the server is back on its source, RV(servers[].status) is V(failed)),
          V(forced) (it was forced to complete; on the target, RV(servers[].status) is V(migrated)),
          or V(reported) (nothing Nova allows - a cold migration, or one Nova refused to force or abort;
          it may still run and RV(servers[].error) says where the server is).
      type: str
      sample: null
    dropped_target:
      description:
        - The O(target_host) that failed an attempt, when O(target_fallback) let the scheduler choose in the
          later ones (null otherwise); RV(servers[].destination) is where the server went.
      type: str
      sample: null
    server_state:
      description:
        - The server after a timeout and what followed it - C(status), C(task_state) (null once settled)
          and C(host). Null when the migration finished in time.
      type: dict
      sample: null
    progress:
      description:
        - Progress lines of a live migration that ran longer than 10 seconds, at most one every 10 seconds,
          from Nova's record of the migration in progress (C(GET /servers/{id}/migrations)) -
          C(elapsed) seconds, C(migration_id), C(migration_status), C(memory_total_bytes),
          C(memory_processed_bytes), C(memory_remaining_bytes) and C(memory_remaining_percent)
          (null when the virt driver reports no memory figures).
        - A line with C(unavailable) says why no progress could be read (then no more are read).
      type: list
      elements: dict
      sample:
        - elapsed: 10.0
          migration_id: 42
          migration_status: running
          memory_total_bytes: 268435456
          memory_processed_bytes: 201326592
          memory_remaining_bytes: 67108864
          memory_remaining_percent: 25
failed_servers:
  description: IDs of the servers whose migration failed.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible_collections.fenix.maintenance.plugins.module_utils.base import OpenStackModule
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import (
    MIGRATION_COUNTS,
    MIGRATION_DELAYS,
    MigrationOutcome,
    MigrationRequest,
    Migrator,
    invalid_number,
    migration_argument_spec,
    migration_settings,
    unmigratable_reason,
    unmoved_outcome,
)


def block_migration_value(text: str):
    return {"true": True, "false": False}.get(text, "auto")


class ServerMigrateModule(OpenStackModule):
    argument_spec = dict(
        servers=dict(type="list", elements="str", required=True, aliases=["server"]),
        kind=dict(default="live", choices=["live", "cold"]),
        target_host=dict(),
        target_fallback=dict(default=False, type="bool"),
        from_host=dict(),
        block_migration=dict(default="auto", choices=["auto", "true", "false"]),
        confirm=dict(default=True, type="bool"),
        **migration_argument_spec(),
        timeout=dict(default=600, type="int"),
    )
    module_kwargs = dict(supports_check_mode=True)

    def validate(self) -> None:
        error = invalid_number(self.params, MIGRATION_COUNTS + ("timeout",), MIGRATION_DELAYS)
        if error:
            self.fail_json(msg=error)
        if self.params["target_host"] and self.params["target_host"] == self.params["from_host"]:
            self.fail_json(msg="target_host: equals from_host (%s); a server cannot move to where it is" % self.params["target_host"])

    def find_servers(self) -> list:
        found, missing = [], []
        for name_or_id in self.params["servers"]:
            server = self.conn.compute.find_server(name_or_id, ignore_missing=True, all_projects=True)
            if server is None:
                missing.append(name_or_id)
            else:
                found.append(server)
        if missing:
            self.fail_json(msg="servers: no server named or with ID %s" % ", ".join(missing))
        return found

    def refuse_unmigratable(self, servers: list) -> None:
        refused = []
        for server in servers:
            reason = unmigratable_reason(self.params["kind"], server.status)
            if reason and self.skip_reason(server) is None:
                refused.append("%s (%s): %s" % (server.name, server.id, reason))
        if refused:
            self.fail_json(msg="kind: %s; nothing was migrated: %s" % (
                "choose the kind that fits each server", "; ".join(refused)))

    def skip_reason(self, server):
        if self.params["from_host"] and server.compute_host != self.params["from_host"]:
            return "server is on %s, not on from_host %s" % (server.compute_host, self.params["from_host"])
        if self.params["target_host"] and server.compute_host == self.params["target_host"]:
            return "server is already on target_host %s" % server.compute_host
        return None

    def run(self) -> dict:
        self.validate()
        servers = self.find_servers()
        self.refuse_unmigratable(servers)
        outcomes = self.migrate(servers)
        ordered = [outcomes[server.id] for server in servers]
        failed = [outcome for outcome in ordered if outcome.status == "failed"]
        result = dict(
            changed=any(outcome.status in ("migrated", "requested", "would_migrate") for outcome in ordered),
            servers=[outcome.as_dict() for outcome in ordered],
            failed_servers=[outcome.server_id for outcome in failed],
        )
        if self.diff_mode:
            result["diff"] = dict(
                before={outcome.server_id: outcome.source for outcome in ordered},
                after={outcome.server_id: self.predicted_host(outcome) for outcome in ordered},
            )
        if failed:
            self.fail_json(msg="migration failed for %d of %d servers: %s" % (len(failed), len(ordered), "; ".join(
                "%s: %s" % (outcome.name or outcome.server_id, outcome.error) for outcome in failed)), **result)
        return result

    def migrate(self, servers: list) -> dict:
        """Each server's outcome by ID: skipped, would migrate (check mode), or what its migration did."""
        outcomes, requests = {}, []
        for server in servers:
            reason = self.skip_reason(server)
            if reason is not None:
                outcomes[server.id] = self.outcome(server, "skipped", error=reason)
            elif self.check_mode:
                outcomes[server.id] = self.outcome(server, "would_migrate")
            else:
                requests.append(MigrationRequest(
                    server.id,
                    kind=self.params["kind"],
                    target_host=self.params["target_host"],
                    block_migration=block_migration_value(self.params["block_migration"]),
                    source_host=server.compute_host,
                ))
        settings = migration_settings(self.params, self.params["timeout"], self.params["confirm"],
                                      self.params["target_fallback"])
        for outcome in Migrator(self.conn, settings).migrate_all(requests):
            outcomes[outcome.server_id] = outcome
        return outcomes

    def predicted_host(self, outcome: MigrationOutcome):
        if outcome.status == "would_migrate":
            return self.params["target_host"] or "(chosen by the scheduler)"
        return outcome.destination or outcome.source

    def outcome(self, server, status: str, error=None) -> MigrationOutcome:
        return unmoved_outcome(
            server.id, server.name, server.project_id, self.params["kind"], server.compute_host, status, error
        )


def main() -> None:
    module = ServerMigrateModule()
    module()


if __name__ == "__main__":
    main()
