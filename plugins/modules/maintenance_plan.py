#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: maintenance_plan
short_description: Plan a rolling maintenance, batches of hosts and a target for every server (dry run)
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - Reads the cloud (compute services, hypervisors, Placement capacity and usage, servers with their
    flavors, server groups, aggregates) with list calls only, and the instance and instance group
    constraints the projects stored in the session journal, and plans the maintenance of the hosts.
  - The plan is an ordered list of batches of hosts; for every server on a batch's hosts it names a
    target host and whether it moves live (C(LIVE_MIGRATE)) or cold (C(MIGRATE)), in waves. In every
    batch no target lacks vCPU, RAM or disk, no anti-affinity group gets two members on one host,
    no instance group has more than its C(max_impacted_members) impacted in one wave, and at most
    O(max_unavailable) hosts of an availability zone or aggregate are down.
  - Hosts already empty go first, then the hosts with the fewest servers. When no host is maintained yet,
    the first batch takes hosts without members of a group limited by C(max_impacted_members) where it can -
    its servers move again in a later batch, and such members move one after the other.
    Batches are as large as these rules allow, up to O(max_parallel_hosts).
  - A target is one Nova accepts for the server - it has the traits the flavor requires and none it forbids
    (C(trait:NAME=required|forbidden); one Placement request per distinct set of traits), it is in the
    zone the server is pinned to (Nova 2.96 C(pinned_availability_zone); before 2.96 the server stays in
    its zone), and its aggregates' metadata matches the flavor's C(aggregate_instance_extra_specs). A server
    whose flavor has an extra spec the planner does not model (PCI devices, CPU pinning, NUMA, custom
    resources) moves without a named target - the scheduler chooses - and RV(plan.scheduler_moves) says why.
  - Each server goes to the least filled host that takes it, so that a batch's servers spread over the
    targets instead of filling the first ones. A host's fill is the fraction of its capacity it uses in
    its fullest resource (vCPU with the allocation ratio, as Placement counts capacity, RAM, disk).
  - No target is filled past O(max_target_fill) of any resource while another host has the room under it;
    when none has, the server goes to the least filled host that has the room at all, and the plan says so
    in RV(over_fill).
  - Among the hosts with the room, hosts already maintained come first, then hosts outside the maintenance,
    then hosts of later batches (such a server moves twice; the plan counts those), the hosts next in line
    for the batch being formed last.
  - Names every server that cannot move and why, how much capacity is missing when it is short
    (Fenix C(SCALE_IN)), and the host to empty first when no host to maintain is empty (Fenix
    C(PREPARE_MAINTENANCE)).
  - With O(batch), plans exactly those hosts as one batch with fresh targets against the cloud as it
    is now (a rolling play calls this once per batch), and fails naming the blockers when the rules
    cannot be met. It reads the servers of those hosts and the other members of their groups only, so
    its cost grows with the batch, not with the cloud.
  - Read-only; nothing in the cloud or the journal changes.
  - First checks that the cloud's compute and Placement APIs offer the microversions the collection
    needs (OpenStack Rocky or later), and fails naming what is missing otherwise.
options:
  hosts:
    description:
      - Compute hosts to maintain, as Nova names them.
      - When empty, the hosts of O(session_id), or else every nova-compute host.
      - Every host (O(hosts) empty, and the session, if any, created with no hosts named) leaves out
        the hosts disabled by someone else - anyone but the session O(session_id) (without a session,
        anyone but this collection without a session) - and lists them in RV(skipped_hosts).
      - A host named here, in the session's hosts or in O(batch) that is disabled by someone else
        fails the module, naming the host, who disabled it and how to give it back, unless
        O(include_disabled=true).
    type: list
    elements: str
    default: []
  include_disabled:
    description:
      - Plan hosts disabled by someone else like the others (named, or among every host). A
        maintenance never enables such a host; it stays disabled, with its reason, afterwards.
    type: bool
    default: false
  session_id:
    description:
      - Read the hosts to maintain (unless O(hosts) is given) and the hosts already maintained from
        this session in the journal.
    type: str
  batch:
    description:
      - Plan just these hosts, as one batch. The other hosts of O(hosts) (or of the session) that are
        not maintained yet are used as targets only when nothing else fits.
      - The module fails, naming the blockers, when these hosts cannot go together.
    type: list
    elements: str
    default: []
  max_parallel_hosts:
    description:
      - Most hosts in one batch. Ignored with O(batch).
    type: int
    default: 10
  ramp_up:
    description:
      - When no host is maintained yet and none of O(hosts) is empty, let the first batches grow - 1, 2, 4, ...
        hosts up to O(max_parallel_hosts) - instead of starting at full width.
      - The servers of the first batch can only go to hosts maintained later, and move again there. A small
        first batch moves few of them twice, and each later batch sends its servers to the hosts maintained
        before it. It costs more batches, so it pays where moves are slow and batches are wide.
      - The C(bound) of a batch in RV(plan) names the ramp-up when it sets the batch's width. Ignored with O(batch).
    type: bool
    default: false
    version_added: 0.2.0
  max_target_fill:
    description:
      - The fraction of its capacity in any resource (vCPU with the allocation ratio, RAM, disk) that no
        target passes while another host has the room under it.
      - When no host has the room under it, servers go past it, up to the capacity, and RV(over_fill) names
        them; V(1) means no limit but the capacity.
      - Above 0 and at most 1.
    type: float
    default: 0.85
  max_unavailable:
    description:
      - Most hosts down at once per availability zone and per aggregate, hosts already down included.
      - A number of hosts, or a percentage of the zone's or aggregate's hosts like V(25%) (at least one host).
      - Set a key to an empty string (V('')) for no limit.
    type: dict
    default: {}
    suboptions:
      availability_zone:
        description: Per availability zone.
        type: str
        default: "25%"
      aggregate:
        description: Per host aggregate.
        type: str
        default: "25%"
  estimates:
    description:
      - Durations for the estimate of the maintenance's length (RV(estimated_seconds)).
    type: dict
    default: {}
    suboptions:
      live_migration_seconds:
        description:
          - One live migration.
          - When not given, the median of the latest live migrations that ended well in the journal (up to 100,
            in any session; at least 5 of them), else of those among the cloud's latest 100 migrations (Nova's
            list, from microversion 2.59; at least 5), else 10 (RV(learned_estimates) says which).
        type: float
      cold_migration_seconds:
        description:
          - One cold migration with its confirmation - the outage that an instance's C(max_interruption_time)
            is weighed against, and its length in the estimate.
          - When not given, the outage is planned at 20 s, and the estimate takes the median of the latest cold
            migrations in the journal, else in Nova's list, as O(estimates.live_migration_seconds) does (else 20).
            That history never loosens the C(max_interruption_time) rule.
        type: float
      host_seconds:
        description:
          - The maintenance of a batch's hosts once they are empty (upgrade plugins, reboot, health gate).
          - When not given, the median of the plugins and checks of the batches of the latest finished sessions
            in the journal (up to 3 sessions, at least 2 batches), else 300 (RV(learned_estimates) says which).
          - A finished session's figures come from its run report the first time a plan reads them; the journal
            keeps them from then on (not in check mode; C(changed)), as the report of a session of thousands of
            hosts takes seconds to build. A session moved to another state since is read again.
        type: float
      batch_overhead_seconds:
        description:
          - The rest of a batch in a rolling maintenance, besides its moves and its host work - planning it,
            disabling and enabling its hosts, asking its projects and reading their answers, notifying - the
            Ansible tasks around the work, up to the next batch.
          - When not given, learned from the journal's latest finished sessions as O(estimates.host_seconds)
            is (the rest of each batch's time and the gap to the next batch), else 7 - the 5-7 s per batch the
            role takes on the project's test cloud. V(0) leaves it out.
        type: float
      session_overhead_seconds:
        description:
          - The session's steps before its first batch and after its last - asking every project and
            reading their answers, planning, the final notice - counted once in the plan of every host
            (not in the plan of one O(batch)).
          - When not given, the median of the latest finished sessions in the journal (up to 3), else 9 -
            the 7-9 s the role takes on the project's test cloud. V(0) leaves it out.
        type: float
      migrations_per_host:
        description:
          - Migrations at once from one host (Nova's C(max_concurrent_live_migrations)).
          - A wave of moves lasts as long as its busiest source or target host is busy.
        type: int
        default: 1
      incoming_per_host:
        description:
          - Migrations at once into one target host (the C(concurrency_per_target) of the modules that
            migrate).
        type: int
        default: 4
      concurrency:
        description:
          - Migrations at once in all (the C(concurrency) of the modules that migrate).
          - Above 1, a batch whose moves are all migrations has its waves run together, as
            M(fenix.maintenance.maintenance_instance_actions) runs them - a move of a later wave waits only for
            its groups' earlier members and their C(recovery_time) - so the estimate counts the longest of the
            busiest host over all the batch's moves, their share of this concurrency and each group's chain of
            waves, instead of the waves one after the other.
        type: int
        default: 1
  page:
    description:
      - Write the plan as a page an operator reads before the maintenance, C(<name>-plan.md) and
        C(<name>-plan.html) in O(page_dir), where C(<name>) is the session id or C(dry-run) without one.
        It shows each batch with its hosts, the rule that bounds its width, its estimate by part, each server's
        move (project, target, live or cold, wave) and the servers left on its hosts.
      - Written in check mode too, as it is the dry run's own output. C(changed) says whether a page file
        changed (a file is replaced only when its content differs), or whether the journal now keeps the
        figures of a finished session (see O(estimates)).
    type: bool
    default: false
  page_dir:
    description:
      - Where O(page=true) writes the plan page.
      - Default C(reports/) beside a SQLite journal, where the run report goes; required with a
        PostgreSQL journal.
    type: path
extends_documentation_fragment:
  - fenix.maintenance.openstack.SERVER_POLICY
  - ansible.builtin.action_common_attributes
  - fenix.maintenance.openstack
  - fenix.maintenance.journal
  - fenix.maintenance.openstack.SESSION_ATTRIBUTES
attributes:
  platform:
    support: full
    platforms: all
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Constraints are read from the journal when it exists; the journal is never created by this module.
  - Soft anti-affinity and soft affinity server groups do not limit targets (Nova only weighs them).
    Members of an affinity server group cannot move one by one and are named as blockers.
  - Disk is counted as root plus ephemeral plus swap of the flavor, so volume-backed servers are
    counted larger than they are.
  - The O(wait) and O(timeout) options have no effect.
"""

EXAMPLES = r"""
- name: Dry run of a maintenance of every compute host
  fenix.maintenance.maintenance_plan:
    cloud: admin
    max_parallel_hosts: 20
    max_unavailable:
      availability_zone: "10%"
      aggregate: 2
    max_target_fill: 0.8
  register: plan

- name: Show the batches and who will be asked
  ansible.builtin.debug:
    msg: "{{ plan.serial }} hosts per batch, {{ plan.projects | length }} projects, about {{ plan.estimated_seconds }} s"

- name: Explain the plan, and write it as a page beside the journal
  fenix.maintenance.maintenance_plan:
    cloud: admin
    page: true
  check_mode: true
  register: plan

- name: Show what each batch does and why it is that wide
  ansible.builtin.debug:
    var: plan.explanation

- name: Stop when something cannot move
  ansible.builtin.fail:
    msg: "{{ plan.blockers | map(attribute='message') | list }}"
  when: plan.blockers | length > 0

- name: Plan the session's next batch against the cloud as it is now
  fenix.maintenance.maintenance_plan:
    cloud: admin
    session_id: chg-1234
    batch: "{{ ansible_play_batch }}"
  register: batch_plan
"""

RETURN = r"""
plan:
  description:
    - The whole plan. Besides C(batches) it holds the same C(serial), C(blockers), C(unplanned_hosts),
      C(scale_in), C(over_fill), C(prepare_host), C(projects), C(estimated_seconds) and C(skipped_hosts) as
      returned at the top level.
  returned: always
  type: dict
  contains:
    batches:
      description:
        - Batches in order, each with C(hosts), C(waves), C(skipped), C(estimated_seconds), C(estimate) (its
          parts in seconds, C(lead_time), C(waves) (one per wave), C(recovery), C(host), C(orchestration), and
          C(overlapped) - true when the waves run together, C(waves) then being one figure for all of them, their
          recovery times included) and C(bound) (why the batch has no more hosts).
        - C(waves) is a list of lists of moves, run one after the other; each move has C(server_id),
          C(name), C(project_id), C(from_host), C(to_host), C(kind) (C(LIVE_MIGRATE) or C(MIGRATE)),
          C(group_id) (its Nova server group, or the Fenix instance group its constraint names),
          C(fenix_group_id) (the Fenix instance group of a server that is in a Nova server group too; the
          waves hold both groups' C(max_impacted_members)) and C(moves_again) (the target is a host of a later batch).
        - C(skipped) lists the servers left on the hosts (server policy skip).
      type: list
      elements: dict
      sample:
        - hosts: [compute4]
          waves:
            - - server_id: 6842f674-1e3c-4b42-9d31-c634edbc5957
                name: web-1
                project_id: fc9628a8089441e9af02942f29e0072c
                from_host: compute4
                to_host: compute3
                kind: LIVE_MIGRATE
                group_id: null
                fenix_group_id: null
                moves_again: true
          skipped: []
          estimated_seconds: 310.0
    moves:
      description: How many migrations the plan makes.
      type: int
      sample: 12
    double_moves:
      description: How many of them put a server on a host of a later batch, which moves it again.
      type: int
      sample: 3
    session_overhead_seconds:
      description:
        - The part of C(estimated_seconds) that is the session's own start and end (O(estimates.session_overhead_seconds));
          0 in the plan of one O(batch).
      type: float
      sample: 9.0
    scheduler_moves:
      description:
        - The servers moved without a named target, Nova's scheduler choosing, because the planner cannot
          model where Nova may put them (a flavor extra spec such as C(hw:cpu_policy) or C(pci_passthrough:alias))
          - C(server_id), C(name), C(project_id), C(host) and C(reason).
      type: list
      elements: dict
      sample: []
serial:
  description: Hosts per batch, in order, for a play's C(serial) keyword.
  returned: always
  type: list
  elements: int
  sample: [1, 2, 1]
blockers:
  description:
    - Servers that cannot move, each with C(server_id), C(name), C(project_id), C(host), C(reason)
      and C(message) (C(server <name> (<id>) of project <project> cannot move, <reason>)).
    - Their hosts are in no batch.
  returned: always
  type: list
  elements: dict
  sample: []
skipped_hosts:
  description:
    - Hosts left out of the maintenance because someone else disabled them (every host planned,
      O(include_disabled=false)), each with C(host), C(disabled_reason) and C(reason).
  returned: always
  type: list
  elements: dict
  sample:
    - host: compute3
      disabled_reason: RMA 1234
      reason: "disabled by someone else (disabled_reason: 'RMA 1234'); left out of the maintenance"
unplanned_hosts:
  description: Hosts that no batch could take, each with C(host) and C(reason).
  returned: always
  type: list
  elements: dict
  sample: []
over_fill:
  description:
    - Null when every target stays under O(max_target_fill). Otherwise the servers placed past it because no
      host had the room under it, with C(max_fill), C(servers) (how many), C(vcpus), C(memory_mb) and
      C(disk_gb) (their flavors, the room to add to stay under it) and C(hosts) (the targets past it).
  returned: always
  type: dict
  sample: null
scale_in:
  description:
    - Null when capacity suffices. Otherwise what is missing to empty the hardest host (Fenix C(SCALE_IN)),
      with C(vcpus), C(memory_mb), C(disk_gb), C(servers) (how many servers found no room) and C(hosts).
  returned: always
  type: dict
  sample: null
prepare_host:
  description:
    - The host to empty first (Fenix C(PREPARE_MAINTENANCE)) when no host to maintain is empty; else null.
  returned: always
  type: str
  sample: compute4
projects:
  description: Projects to ask, each with C(project_id) and the C(instance_ids) on the planned hosts.
  returned: always
  type: list
  elements: dict
  sample:
    - project_id: fc9628a8089441e9af02942f29e0072c
      instance_ids: [6842f674-1e3c-4b42-9d31-c634edbc5957]
estimated_seconds:
  description:
    - Estimated length of the maintenance (notice, migrations wave by wave, recovery times, host work, and the
      orchestration of each batch, O(estimates.batch_overhead_seconds)), and in the plan of every host the
      session's own start and end once (O(estimates.session_overhead_seconds)).
    - A wave lasts as long as its busiest host is busy, as a source (O(estimates.migrations_per_host) at
      once) or as a target (O(estimates.incoming_per_host) at once).
  returned: always
  type: float
  sample: 1260.0
learned_estimates:
  description:
    - The durations of O(estimates) that were not given and came from the journal or from Nova, each with its
      C(seconds) (the median) and what it was taken from - the journal's C(moves) of a kind that ended well (at
      least 5), else the C(migrations) of that kind that ended well among the cloud's latest 100 (Nova's list,
      one request; at least 5), the C(batches) of the journal's latest finished sessions (at least 2) or those
      C(sessions).
    - Empty before any maintenance finished in the journal and on a cloud whose servers have not moved (Nova
      forgets the migrations of deleted servers). The plan of one O(batch) learns the journal's moves'
      durations only.
  returned: always
  type: dict
  sample:
    live_migration_seconds: {seconds: 8.4, moves: 34}
    cold_migration_seconds: {seconds: 12.0, migrations: 9}
    host_seconds: {seconds: 7.1, batches: 8}
    batch_overhead_seconds: {seconds: 5.4, batches: 8}
    session_overhead_seconds: {seconds: 8.2, sessions: 2}
hosts:
  description: The hosts planned (without those already maintained).
  returned: always
  type: list
  elements: str
  sample: [compute1, compute2, compute3, compute4]
explanation:
  description:
    - The plan as lines to read. First its overview, then each batch with its hosts and the rule that bounds
      its width (after C(not wider)), its estimate by part (the projects' notice, each wave, the groups'
      recovery, the host work), each server's move (wave, server, project by name, source, target, live or
      cold) and the servers left on its hosts. A batch shows its first 50 moves; the plan page all of them.
    - Projects are named from one Keystone list, except in a plan of O(batch) (ids only).
    - Last, which durations of the estimate came from the journal or Nova (C(estimate learnt) - see
      RV(learned_estimates)) and which from the defaults, neither given in O(estimates) nor learned yet
      (C(estimate with defaults)); a first run's estimate knows little of the cloud.
  returned: always
  type: list
  elements: str
  sample:
    - "batches: 2 (hosts per batch: 1, 1)"
    - "batch 1: compute2 (not wider: compute1 cannot join it: 1 of its servers cannot move: ...)"
    - "  estimate 320 s: wave 10 s + host work 300 s"
    - "  wave 1: vm-1 (0b6a...) of tenant-a (fc96...), compute2 -> compute3, live"
page_files:
  description: The plan page's files by format (C(markdown), C(html)), with O(page=true).
  returned: when page is true
  type: dict
  sample:
    markdown: /var/lib/fenix/reports/chg-1234-plan.md
    html: /var/lib/fenix/reports/chg-1234-plan.html
maintained:
  description: Hosts of the session already maintained; preferred as targets.
  returned: always
  type: list
  elements: str
  sample: []
"""

from functools import partial
from typing import Dict, List, Optional, Set

from ansible_collections.fenix.maintenance.plugins.module_utils.base import OpenStackModule
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import HostSelection, select_hosts
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.drain import (
    DEFAULT_POLICY,
    server_policy_argument_spec,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import project_names
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.versions import require_floors
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.input import host_states, read_cloud_model
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import (
    DEFAULT_PER_TARGET, recent_migration_seconds)
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.model import (
    DEFAULT_MAX_FILL,
    PlanSettings,
    validate_fill,
    validate_limit,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.explain import describe, explain
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.history import (
    MOVES_LEARNED_FROM, SESSIONS_LEARNED_FROM, default_lines, learned_estimates, learned_from_sessions, learned_lines,
    session_figures)
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.planner import plan_batch, plan_maintenance
from ansible_collections.fenix.maintenance.plugins.module_utils.report.build import ReportError, build_report
from ansible_collections.fenix.maintenance.plugins.module_utils.report.report import report_directory, write_plan_page
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import COLD_MIGRATION_SECONDS


class MaintenancePlanModule(OpenStackModule):
    argument_spec = dict(
        hosts=dict(type="list", elements="str", default=[]),
        include_disabled=dict(type="bool", default=False),
        session_id=dict(),
        batch=dict(type="list", elements="str", default=[]),
        max_parallel_hosts=dict(type="int", default=10),
        ramp_up=dict(type="bool", default=False),
        max_target_fill=dict(type="float", default=DEFAULT_MAX_FILL),
        max_unavailable=dict(
            type="dict",
            default={},
            options=dict(
                availability_zone=dict(default="25%"),
                aggregate=dict(default="25%"),
            ),
        ),
        server_policy=server_policy_argument_spec(),
        estimates=dict(
            type="dict",
            default={},
            options=dict(
                live_migration_seconds=dict(type="float"),
                cold_migration_seconds=dict(type="float"),
                host_seconds=dict(type="float"),
                batch_overhead_seconds=dict(type="float"),
                session_overhead_seconds=dict(type="float"),
                migrations_per_host=dict(type="int", default=1),
                incoming_per_host=dict(type="int", default=DEFAULT_PER_TARGET),
                concurrency=dict(type="int", default=1),
            ),
        ),
        page=dict(type="bool", default=False),
        page_dir=dict(type="path"),
    )
    module_kwargs = dict(supports_check_mode=True)
    uses_journal = True

    def check_options(self) -> None:
        """Fails naming the first option out of range, before the cloud is read."""
        params = self.params
        limits = params["max_unavailable"] or {}
        estimates = params["estimates"] or {}
        if params["max_parallel_hosts"] < 1:
            self.fail_json(msg="max_parallel_hosts: %d; give at least 1" % params["max_parallel_hosts"])
        for key in ("migrations_per_host", "incoming_per_host", "concurrency"):
            if estimates.get(key) is not None and estimates[key] < 1:
                self.fail_json(msg="estimates.%s: give at least 1" % key)
        for key in ("live_migration_seconds", "cold_migration_seconds") + LEARNED_FROM_SESSIONS:
            if estimates.get(key) is not None and estimates[key] < 0:
                self.fail_json(msg="estimates.%s: %g; give 0 or more seconds" % (key, estimates[key]))
        for key in ("availability_zone", "aggregate"):
            validate_limit("max_unavailable.%s" % key, limits.get(key))
        validate_fill("max_target_fill", params["max_target_fill"])

    def settings(self, learned: Dict[str, dict]) -> PlanSettings:
        """The plan's settings from the options; ``learned``: the estimates the journal's and Nova's history give."""
        params = self.params
        limits = params["max_unavailable"] or {}
        estimates = params["estimates"] or {}
        return PlanSettings(
            max_parallel_hosts=params["max_parallel_hosts"],
            max_unavailable_per_zone=limits.get("availability_zone"),
            max_unavailable_per_aggregate=limits.get("aggregate"),
            server_policy=dict(DEFAULT_POLICY, **{k: v for k, v in (params["server_policy"] or {}).items() if v}),
            live_migration_seconds=first_given(estimates.get("live_migration_seconds"),
                                               learned.get("live_migration_seconds", {}).get("seconds"), 10.0),
            cold_migration_seconds=first_given(estimates.get("cold_migration_seconds"), COLD_MIGRATION_SECONDS),
            cold_migration_estimate_seconds=learned.get("cold_migration_seconds", {}).get("seconds"),
            **{key: first_given(estimates.get(key), learned.get(key, {}).get("seconds"), default)
               for key, default in LEARNED_FROM_SESSIONS_DEFAULTS.items()},
            migrations_per_host=estimates.get("migrations_per_host") or 1,
            incoming_per_host=estimates.get("incoming_per_host") or DEFAULT_PER_TARGET,
            concurrency=estimates.get("concurrency") or 1,
            max_fill=params["max_target_fill"],
            ramp_up=params["ramp_up"],
        )

    def read_journal(self):
        """(session hosts or None, maintained hosts, instance group constraints, instance constraints)."""
        session_id = self.params["session_id"]
        if not self.journal_exists:
            # Read-only: a missing journal is never created; it just holds no constraints.
            if session_id:
                self.fail_json(msg="session_id: no session %s, the journal %s does not exist;"
                               " create the session with fenix.maintenance.maintenance_session"
                               % (session_id, self.journal_shown))
            return None, [], [], []
        session_hosts, maintained = None, []
        if session_id:
            if self.find_session(session_id) is None:
                self.fail_json(msg="session_id: no session %s in the journal %s; create it with"
                               " fenix.maintenance.maintenance_session" % (session_id, self.journal_shown))
            records = self.journal.hosts(session_id)
            session_hosts = [record.host for record in records]
            maintained = [record.host for record in records if record.maintained]
        return (session_hosts, maintained, self.journal.constraints("instance_group"),
                self.journal.constraints("instance"))

    def session_choice(self):
        """(hosts named for the maintenance, [] for every host; hosts the session's journal says it disabled)."""
        session = self.find_session(self.params["session_id"]) if self.journal_exists else None
        if session is None:
            return list(self.params["hosts"]), []
        named = self.params["hosts"] or session.request.get("hosts") or []
        return list(named), self.journal.hosts_disabled_by_session(session.session_id)

    def select(self, model, named: list, maintained: list, recorded: list) -> HostSelection:
        """Which hosts may be planned: fails naming a host disabled by someone else that is named (or in the batch)."""
        include_disabled = self.params["include_disabled"]
        # Hosts maintained already are done: someone may have disabled them since.
        states = [state for state in host_states(model) if state.host not in set(maintained)]
        selection = select_hosts(states, named, include_disabled, self.params["session_id"], recorded)
        if self.params["batch"]:
            select_hosts(states, self.params["batch"], include_disabled, self.params["session_id"], recorded)
        return selection

    def given_estimates(self) -> Set[str]:
        """The durations of O(estimates) the operator gave: neither learnt nor taken from the defaults."""
        return {key for key, value in (self.params["estimates"] or {}).items() if value is not None}

    def learned_estimates(self) -> Dict[str, dict]:
        """The estimates not given that the journal's earlier moves and sessions tell, and for a kind of move the
        journal has too few of, the cloud's latest migrations (one Nova list).

        The plan of one batch learns from the journal's moves alone: the run reports and Nova are read for the
        whole plan."""
        given = self.given_estimates()
        whole_plan = not self.params["batch"]
        in_the_journal = self.journal.recent_move_seconds if self.journal_exists else (lambda action, limit: [])
        in_the_cloud = partial(recent_migration_seconds, self.conn, MOVES_LEARNED_FROM) if whole_plan else None
        learned = learned_estimates(in_the_journal, in_the_cloud, given)
        if self.journal_exists and whole_plan and not set(LEARNED_FROM_SESSIONS) <= given:
            figures = [self.finished_session_figures(session_id)
                       for session_id in self.journal.finished_session_ids(SESSIONS_LEARNED_FROM)]
            learned.update(learned_from_sessions(figures))
        return {key: value for key, value in learned.items() if key not in given}

    def finished_session_figures(self, session_id: str) -> dict:
        """What the estimate learns of a finished session, from its run report the first time and then from the
        journal, where that is kept (not in check mode): the report of a session of 10,000 hosts takes seconds.

        Kept figures count while the session is as it was (its updated_at): a session moved again is read anew.
        """
        updated_at = self.journal.session(session_id).updated_at
        kept = self.journal.session_figures(session_id)
        if kept is not None and kept.get("session_updated_at") == updated_at:
            return kept
        figures = dict(session_figures(build_report(self.journal, session_id)), session_updated_at=updated_at)
        self.figures_kept.append(session_id)
        if not self.check_mode:
            self.journal.record_session_figures(session_id, figures)
        return figures

    def defaults_taken(self, settings: PlanSettings, learned: Dict[str, dict]) -> Dict[str, float]:
        """The durations of the estimate neither given nor learned, with the default it took (the plan of a batch:
        none, as its estimate is nobody's reading)."""
        if self.params["batch"]:
            return {}
        given = self.given_estimates()
        taken = {"live_migration_seconds": settings.live_migration_seconds,
                 "cold_migration_seconds": settings.estimated_cold_seconds,
                 "host_seconds": settings.host_seconds, "batch_overhead_seconds": settings.batch_overhead_seconds,
                 "session_overhead_seconds": settings.session_overhead_seconds}
        return {key: seconds for key, seconds in taken.items() if key not in given and key not in learned}

    def run(self) -> dict:
        page_dir = self.page_directory()
        self.check_options()
        require_floors(self.conn)
        self.figures_kept: List[str] = []  # finished sessions whose figures the journal keeps from this run on
        learned = self.learned_estimates()
        settings = self.settings(learned)
        session_hosts, maintained, group_constraints, instance_constraints = self.read_journal()
        named, recorded = self.session_choice()
        # A batch's plan reads the servers of its hosts (and their groups' other members), not the cloud's.
        model = read_cloud_model(self.conn, group_constraints, instance_constraints,
                                 session_id=self.params["session_id"], recorded=recorded,
                                 servers_of=self.params["batch"] or None)
        hosts = self.params["hosts"] or session_hosts or sorted(model.hosts)
        batch = self.params["batch"]
        unknown = sorted((set(hosts) | set(batch)) - set(model.hosts))
        if unknown:
            self.fail_json(msg="hosts: no nova-compute service on %s; known hosts: %s"
                           % (", ".join(unknown), ", ".join(sorted(model.hosts)) or "none"))
        selection = self.select(model, named, maintained, recorded)
        left_out = set(maintained) | {item["host"] for item in selection.skipped}
        planned = [host for host in sorted(set(hosts)) if host not in left_out]
        plan = self.plan(model, planned, batch, maintained, settings)
        view = dict(plan.as_dict(), skipped_hosts=selection.skipped)
        result = dict(
            changed=False,
            plan=view,
            hosts=sorted(batch) if batch else planned,
            maintained=sorted(maintained),
            learned_estimates=learned,
            **{key: view[key] for key in ("serial", "blockers", "unplanned_hosts", "scale_in", "over_fill",
                                          "prepare_host", "projects", "estimated_seconds", "skipped_hosts")}
        )
        # One Keystone list for the names; a batch's plan (once per batch of a run) goes without them.
        names = {} if batch else project_names(self.conn)
        result["explanation"] = explain(view, names) + learned_lines(learned) + default_lines(
            self.defaults_taken(settings, learned))
        if page_dir is not None:
            name = self.params["session_id"] or "dry-run"
            result["page_files"], result["changed"] = write_plan_page(
                page_dir, name, describe(view, names), "Maintenance plan %s" % name)
        result["changed"] = result["changed"] or bool(self.figures_kept)
        if batch and not plan.ok:
            reasons = [blocker["message"] for blocker in view["blockers"]]
            reasons += ["host %s: %s" % (item["host"], item["reason"]) for item in view["unplanned_hosts"]
                        if not any(blocker["host"] == item["host"] for blocker in view["blockers"])]
            self.fail_json(msg="batch: %s cannot be maintained together now: %s"
                           % (", ".join(sorted(batch)), "; ".join(reasons)), **result)
        return result

    def page_directory(self):
        """Where the plan page goes (None: no page), checked before anything is read."""
        if not self.params["page"]:
            return None
        try:
            return report_directory(self.journal_location, self.params["page_dir"])
        except ReportError:
            self.fail_json(msg="page_dir: missing; a PostgreSQL journal has no directory to put the plan page"
                               " beside, so give page_dir")

    @staticmethod
    def plan(model, planned: list, batch: list, maintained: list, settings: PlanSettings):
        """The plan of the named batch, or of every batch of the planned hosts."""
        if batch:
            pending = [host for host in planned if host not in set(batch)]
            return plan_batch(model, batch, settings, maintained=maintained, pending=pending)
        # A host this session disabled for the maintenance (a run stopped in the middle of its
        # batch) will be enabled again at the end of its batch, so later batches may use it.
        for host in planned:
            if model.hosts[host].disabled_by_us:
                model.hosts[host].enabled = True
        return plan_maintenance(model, planned, settings, maintained=maintained)


# The estimates the journal's finished sessions tell, and what each is without them.
LEARNED_FROM_SESSIONS_DEFAULTS = {"host_seconds": 300.0, "batch_overhead_seconds": 7.0, "session_overhead_seconds": 9.0}
LEARNED_FROM_SESSIONS = tuple(LEARNED_FROM_SESSIONS_DEFAULTS)


def first_given(*values: Optional[float]) -> float:
    """The first value that is not None (the last one always is)."""
    return next(value for value in values if value is not None)


def main() -> None:
    module = MaintenancePlanModule()
    module()


if __name__ == "__main__":
    main()
