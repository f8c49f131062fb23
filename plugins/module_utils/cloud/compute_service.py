# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Disable and enable nova-compute services, remembering who disabled them.

A host this collection disables carries a ``disabled_reason`` that starts with
``MANAGED_REASON_PREFIX``; a host disabled by anyone else is never re-enabled
without ``force``, so a maintenance run cannot undo another operator's work.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError

MANAGED_REASON_PREFIX = "fenix.maintenance"
# Nova stores disabled_reason in a 255 character column.
MAX_REASON_LENGTH = 255
COMPUTE_BINARY = "nova-compute"


class HostNotFound(MaintenanceError, LookupError):
    """No nova-compute service runs on the named host."""


class NotOurs(MaintenanceError, RuntimeError):
    """The service was disabled by someone else and ``force`` was not set."""


@dataclass(frozen=True)
class ServiceState:
    host: str
    status: str
    disabled_reason: Optional[str]
    forced_down: bool
    state: Optional[str] = None
    id: Optional[str] = None
    availability_zone: Optional[str] = None

    @property
    def disabled_by_us(self) -> bool:
        return self.status == "disabled" and is_managed_reason(self.disabled_reason)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["disabled_by_us"] = self.disabled_by_us
        return data


@dataclass(frozen=True)
class DesiredService:
    status: str
    disabled_reason: Optional[str]
    forced_down: bool


def managed_reason(reason: str) -> str:
    """The disabled_reason recorded for a host this collection disables."""
    if is_managed_reason(reason):
        return reason
    return "%s: %s" % (MANAGED_REASON_PREFIX, reason)


def is_managed_reason(reason: Optional[str]) -> bool:
    return bool(reason) and reason.startswith(MANAGED_REASON_PREFIX)


def validate_reason(reason: str) -> None:
    full = managed_reason(reason)
    if len(full) > MAX_REASON_LENGTH:
        raise ValueError(
            "reason: %d characters with the '%s: ' prefix, Nova keeps at most %d;"
            " shorten it" % (len(full), MANAGED_REASON_PREFIX, MAX_REASON_LENGTH)
        )


def service_state(service) -> ServiceState:
    """A ServiceState from an openstacksdk compute Service."""
    return ServiceState(
        host=service.host,
        status=service.status,
        disabled_reason=service.disabled_reason,
        forced_down=bool(service.is_forced_down),
        state=service.state,
        id=service.id,
        availability_zone=service.availability_zone,
    )


def find_compute_service(conn, host: str):
    services = list(conn.compute.services(binary=COMPUTE_BINARY, host=host))
    # Nova matches host exactly, but older releases did prefix matches.
    services = [service for service in services if service.host == host]
    if not services:
        raise HostNotFound(
            "host: no %s service runs on '%s'; list the compute hosts with"
            " fenix.maintenance.compute_host_info" % (COMPUTE_BINARY, host)
        )
    return services[0]


def desired_service(
    current: ServiceState,
    state: str,
    reason: str,
    force: bool,
    forced_down: Optional[bool],
) -> DesiredService:
    """What the service should look like; raises NotOurs when it may not be touched."""
    target_forced_down = current.forced_down if forced_down is None else forced_down
    if state == "disabled":
        if current.status == "disabled" and not current.disabled_by_us and not force:
            # Someone else's disable stands as it is: taking it over would let
            # our enable undo their work later.
            return DesiredService("disabled", current.disabled_reason, target_forced_down)
        return DesiredService("disabled", managed_reason(reason), target_forced_down)
    if current.status == "disabled" and not current.disabled_by_us and not force:
        raise NotOurs(
            "host %s was disabled by someone else (disabled_reason: %r); it is left"
            " disabled. Set force: true to enable it anyway"
            % (current.host, current.disabled_reason)
        )
    return DesiredService("enabled", None, target_forced_down)


def needs_change(current: ServiceState, desired: DesiredService) -> bool:
    if current.status != desired.status or current.forced_down != desired.forced_down:
        return True
    return desired.status == "disabled" and current.disabled_reason != desired.disabled_reason


def apply_service(conn, service, desired: DesiredService) -> ServiceState:
    """Bring the service to ``desired`` and return its new state.

    Forced-down is cleared before enabling and set before disabling, the order
    Nova's evacuation and fencing tools use.
    """
    current = service_state(service)
    if desired.forced_down and not current.forced_down:
        service = conn.compute.update_service_forced_down(service, forced=True) or service
    if desired.status == "enabled" and not desired.forced_down and current.forced_down:
        service = conn.compute.update_service_forced_down(service, forced=False) or service
    if desired.status == "disabled":
        if current.status != "disabled" or current.disabled_reason != desired.disabled_reason:
            service = conn.compute.disable_service(
                service, disabled_reason=desired.disabled_reason
            ) or service
    elif current.status != "enabled":
        service = conn.compute.enable_service(service) or service
    if not desired.forced_down and current.forced_down and desired.status == "disabled":
        service = conn.compute.update_service_forced_down(service, forced=False) or service
    return service_state(service)


def predicted_state(current: ServiceState, desired: DesiredService) -> ServiceState:
    return ServiceState(
        host=current.host,
        status=desired.status,
        disabled_reason=desired.disabled_reason,
        forced_down=desired.forced_down,
        state=current.state,
        id=current.id,
        availability_zone=current.availability_zone,
    )


def diff_view(state: ServiceState) -> dict:
    return {
        "host": state.host,
        "status": state.status,
        "disabled_reason": state.disabled_reason,
        "forced_down": state.forced_down,
    }
