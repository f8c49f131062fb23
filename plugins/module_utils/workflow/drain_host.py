# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Draining a compute host: disable it, move every server off it, wait until it holds nothing.

Nothing changes while a server blocks the drain; a drain that fails after it
disabled the host enables the host again unless told to leave it disabled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import (
    ServiceState,
    apply_service,
    desired_service,
    diff_view,
    find_compute_service,
    needs_change,
    predicted_state,
    service_state,
    validate_reason,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.drain import (
    DEFAULT_POLICY,
    DrainPlan,
    HostNotEmpty,
    plan_drain,
    read_host_contents,
    wait_host_empty,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import (
    MigrationSettings,
    Migrator,
    unmoved_outcome,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import provider_id_of
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError


@dataclass(frozen=True)
class DrainSettings:
    reason: str = "maintenance"
    policy: Dict[str, str] = field(default_factory=lambda: dict(DEFAULT_POLICY))
    # migration.wait=False requests the migrations and reads the host once, without waiting for it.
    migration: MigrationSettings = field(default_factory=MigrationSettings)
    timeout: float = 300  # seconds to wait, after the migrations, for the host to hold nothing
    restore_on_failure: bool = True

    def __post_init__(self) -> None:
        validate_reason(self.reason)


@dataclass
class DrainReport:
    """What a drain found and did (or, in check mode, would do)."""

    host: str
    found: ServiceState  # the service before the drain
    predicted: ServiceState  # the service once disabled
    servers: List[str]  # names of the servers found on the host
    plan: DrainPlan
    will_disable: bool
    service: ServiceState  # the service now (predicted in check mode)
    empty: bool
    disabled: bool = False
    moved: List[dict] = field(default_factory=list)
    restored: bool = False

    @property
    def changed(self) -> bool:
        return not self.plan.blockers and (self.will_disable or bool(self.plan.moves))

    def as_result(self) -> dict:
        return dict(
            changed=self.changed,
            disabled=self.disabled,
            moved=self.moved,
            skipped_servers=self.plan.skipped,
            blockers=self.plan.blockers,
            empty=self.empty,
            restored=self.restored,
            service=self.service.as_dict(),
        )

    def diff(self) -> dict:
        return dict(
            before=dict(diff_view(self.found), servers=sorted(self.servers)),
            after=dict(diff_view(self.predicted), servers=sorted(item["name"] for item in self.plan.skipped)),
        )


class DrainStopped(MaintenanceError):
    """A drain that blocked or failed; ``report`` says what was done before it stopped."""

    def __init__(self, message: str, report: DrainReport) -> None:
        super().__init__(message)
        self.report = report


def drain_host(conn, host: str, settings: DrainSettings, check_mode: bool = False) -> DrainReport:
    """Disable ``host``, migrate its servers by ``settings.policy`` and wait until it is empty.

    Raises DrainStopped when a server blocks the drain (nothing changed) or the
    drain fails (the host enabled again if it disabled it and
    ``restore_on_failure``); HostNotFound when no nova-compute service runs on ``host``.
    """
    service = find_compute_service(conn, host)
    found = service_state(service)
    desired = desired_service(found, "disabled", settings.reason, False, None)
    provider_id = provider_id_of(conn, host)
    contents = read_host_contents(conn, host, provider_id, with_groups=True)
    report = DrainReport(
        host=host,
        found=found,
        predicted=predicted_state(found, desired),
        servers=[server.name for server in contents.servers],
        plan=plan_drain(contents.servers, settings.policy),
        will_disable=needs_change(found, desired),
        service=found,
        empty=contents.empty,
    )
    if report.plan.blockers:
        raise DrainStopped(blockers_message(host, report.plan.blockers), report)
    if check_mode:
        report.service = report.predicted
        names = {server.id: server for server in contents.servers}
        report.moved = [
            unmoved_outcome(move.server_id, names[move.server_id].name, names[move.server_id].project_id,
                            move.kind, host, "would_migrate").as_dict()
            for move in report.plan.moves
        ]
        return report
    if report.will_disable:
        report.service = apply_service(conn, service, desired)
        report.disabled = True
    failure = move_and_wait(conn, report, settings, provider_id)
    if failure:
        if report.disabled and settings.restore_on_failure:
            report.service = apply_service(conn, find_compute_service(conn, host),
                                           desired_service(report.service, "enabled", "", False, None))
            report.restored = True
        raise DrainStopped(failure + restore_note(report.restored, report.disabled), report)
    return report


def move_and_wait(conn, report: DrainReport, settings: DrainSettings, provider_id: Optional[str]) -> Optional[str]:
    """Migrate the planned servers and wait for the host to be empty; why the drain failed, or None."""
    outcomes = Migrator(conn, settings.migration).migrate_all(report.plan.moves)
    report.moved = [outcome.as_dict() for outcome in outcomes]
    failed = [outcome for outcome in outcomes if not outcome.ok]
    if failed:
        return "drain of %s failed: %s" % (report.host, "; ".join(
            "%s (%s) of project %s: %s" % (o.name, o.server_id, o.project_id, o.error) for o in failed))
    if not settings.migration.wait or report.plan.skipped:
        # A skipped server stays: waiting for an empty host would only time out.
        report.empty = read_host_contents(conn, report.host, provider_id).empty
        return None
    try:
        wait_host_empty(conn, report.host, settings.timeout, settings.migration.poll_interval, provider_id)
    except HostNotEmpty as exc:
        return str(exc)
    report.empty = True
    return None


def blockers_message(host: str, blockers: List[dict]) -> str:
    return "cannot drain %s, nothing was changed: %s" % (host, "; ".join(
        "server %s (%s) of project %s is %s: %s" % (b["name"], b["id"], b["project_id"], b["status"], b["reason"])
        for b in blockers))


def restore_note(restored: bool, disabled_by_run: bool) -> str:
    if restored:
        return "; the host was enabled again"
    if disabled_by_run:
        return "; the host stays disabled (restore_on_failure is false)"
    return ""
