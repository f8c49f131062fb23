# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Disable and enable nova-compute services, remembering who disabled them.

A host this collection disables carries a ``disabled_reason`` that starts with
``MANAGED_REASON_PREFIX``, followed by the session that owns the disable when
there is one: ``fenix.maintenance: session <id>: <why>``. Only its owner
enables it again (a session, or a call without a session for a disable made
without one); anyone else needs ``force``, so one maintenance cannot undo the
work of another operator or of another session.

Reasons written before sessions were named (``fenix.maintenance: <why>``)
belong to no session: a call without a session may enable them, and a session
only when its journal records that it disabled that host.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Iterable, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.parallel import call_each
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.versions import SERVICE_MICROVERSION
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError

MANAGED_REASON_PREFIX = "fenix.maintenance"
# Nova stores disabled_reason in a 255 character column.
MAX_REASON_LENGTH = 255
COMPUTE_BINARY = "nova-compute"
# The session named in a reason: a token without spaces, then ": <why>" or nothing. Earlier
# versions of the role wrote "fenix.maintenance: session <id>", which reads the same way.
SESSION_IN_REASON = re.compile(r"^%s: session (\S+?)(?:: |$)" % re.escape(MANAGED_REASON_PREFIX))
INCLUDE_DISABLED_HINT = ("set include_disabled: true (rolling_maintenance_include_disabled in the role) to maintain"
                         " it anyway; it stays disabled afterwards")


class HostNotFound(MaintenanceError, LookupError):
    """No nova-compute service runs on the named host."""


class NotOurs(MaintenanceError, RuntimeError):
    """The service was disabled by someone else and ``force`` was not set."""


class ReasonRefused(MaintenanceError, RuntimeError):
    pass


class DisabledByOthers(MaintenanceError, ValueError):
    """Hosts named for a maintenance are disabled by someone else, and include_disabled is not set."""


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
        """Disabled by this collection, in any session or none (what inventories show)."""
        return self.status == "disabled" and is_managed_reason(self.disabled_reason)

    def owned_by(self, session_id: Optional[str], recorded: bool = False) -> bool:
        """Whether the caller owns this disable: the session ``session_id``, or (None) a call without a session.

        ``recorded``: the session's journal says the session disabled this host, which makes a reason
        naming no session (written before sessions were named) the session's own.
        """
        if not self.disabled_by_us:
            return False
        if session_id is not None and names_session(self.disabled_reason, session_id):
            return True
        if reason_session(self.disabled_reason) is not None:
            return False  # another session's
        return session_id is None or recorded

    def as_dict(self) -> dict:
        data = asdict(self)
        data["disabled_by_us"] = self.disabled_by_us
        return data


@dataclass(frozen=True)
class DesiredService:
    status: str
    disabled_reason: Optional[str]
    forced_down: bool


@dataclass(frozen=True)
class HostSelection:
    """The hosts to maintain, and those left out because someone else disabled them."""
    hosts: List[str]
    skipped: List[dict] = field(default_factory=list)


def session_head(session_id: str) -> str:
    return "%s: session %s" % (MANAGED_REASON_PREFIX, session_id)


def managed_reason(reason: str, session_id: Optional[str] = None) -> str:
    """The disabled_reason recorded for a host this collection disables: ``fenix.maintenance: [session <id>: ]<reason>``."""
    text = reason or ""
    for head in ((MANAGED_REASON_PREFIX,) if session_id is None else (MANAGED_REASON_PREFIX, "session %s" % session_id)):
        # A reason given with our own words already is not prefixed twice.
        if text == head:
            text = ""
        elif text.startswith(head + ": "):
            text = text[len(head) + 2:]
    head = MANAGED_REASON_PREFIX if session_id is None else session_head(session_id)
    return "%s: %s" % (head, text) if text else head


def is_managed_reason(reason: Optional[str]) -> bool:
    return bool(reason) and reason.startswith(MANAGED_REASON_PREFIX)


def names_session(reason: Optional[str], session_id: str) -> bool:
    head = session_head(session_id)
    return bool(reason) and (reason == head or reason.startswith(head + ": "))


def reason_session(reason: Optional[str]) -> Optional[str]:
    """The session a reason of ours names, or None (someone else's reason, or ours without a session)."""
    match = SESSION_IN_REASON.match(reason or "")
    return match.group(1) if match else None


def validate_reason(reason: str, session_id: Optional[str] = None) -> None:
    full = managed_reason(reason, session_id)
    if len(full) > MAX_REASON_LENGTH:
        raise ValueError(
            "reason: %d characters as Nova would store it (%r...), Nova keeps at most %d;"
            " shorten it" % (len(full), full[:60], MAX_REASON_LENGTH)
        )


def disabler(current: ServiceState) -> str:
    """Who disabled a service, in words, with its reason."""
    owner = reason_session(current.disabled_reason)
    if owner is not None:
        who = "session %s" % owner
    elif is_managed_reason(current.disabled_reason):
        who = "%s without a session" % MANAGED_REASON_PREFIX
    else:
        who = "someone else"
    return "%s (disabled_reason: %r)" % (who, current.disabled_reason)


def how_to_release(current: ServiceState) -> str:
    """How the owner of a disable gives the host back."""
    owner = reason_session(current.disabled_reason)
    if owner is not None:
        return ("resume session %s, or end it (playbooks/abort_maintenance.yml with rolling_maintenance_session_id=%s),"
                " which enables the hosts it disabled" % (owner, owner))
    if is_managed_reason(current.disabled_reason):
        return "enable it with fenix.maintenance.compute_service without session_id"
    return "ask whoever disabled it to enable it"


def not_ours_message(current: ServiceState, session_id: Optional[str]) -> str:
    caller = "session %s" % session_id if session_id else "a call without session_id"
    return ("host %s is disabled by %s, not by %s; it is left disabled. To enable it, %s; or set force: true"
            " to enable it anyway" % (current.host, disabler(current), caller, how_to_release(current)))


def select_hosts(states: Iterable[ServiceState], requested: List[str], include_disabled: bool,
                 session_id: Optional[str] = None, recorded: Iterable[str] = ()) -> HostSelection:
    """The hosts a maintenance takes: those named, or (none named) every host but those someone else disabled.

    Raises DisabledByOthers, naming each host with who disabled it and the fix, when a host
    named is disabled by someone else (anyone but ``session_id``) and not ``include_disabled``.
    Hosts named that have no service are left to the caller, which names them.
    """
    by_host = {state.host: state for state in states}
    recorded = set(recorded)

    def by_others(host: str) -> bool:
        state = by_host[host]
        return state.status == "disabled" and not state.owned_by(session_id, host in recorded)

    if requested:
        named = sorted(set(requested))
        blocked = [by_host[host] for host in named if host in by_host and by_others(host)]
        if blocked and not include_disabled:
            raise DisabledByOthers(
                "hosts: %s; nothing was changed. Leave such a host out of hosts, have it given back first, or %s"
                % ("; ".join("%s is disabled by %s (to give it back: %s)" % (state.host, disabler(state),
                                                                             how_to_release(state))
                             for state in blocked), INCLUDE_DISABLED_HINT))
        return HostSelection(named)
    every = sorted(by_host)
    if include_disabled:
        return HostSelection(every)
    skipped = [dict(host=host, disabled_reason=by_host[host].disabled_reason,
                    reason="disabled by %s; left out of the maintenance" % disabler(by_host[host]))
               for host in every if by_others(host)]
    left_out = {item["host"] for item in skipped}
    return HostSelection([host for host in every if host not in left_out], skipped)


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


def find_compute_services(conn, hosts: List[str]) -> list:
    """The nova-compute service of each host, in the order given: one filtered list per host, sent together.

    Per host, not the cloud's whole service list: the work grows with the batch, not with the cloud.
    Raises HostNotFound naming every host that runs none, before anything is changed.
    """
    if len(hosts) == 1:
        return [find_compute_service(conn, hosts[0])]

    def service_or_missing(host: str):
        try:
            return find_compute_service(conn, host)
        except HostNotFound:
            return None

    services = call_each(service_or_missing, hosts)
    missing = [host for host, service in zip(hosts, services) if service is None]
    if missing:
        raise HostNotFound(
            "hosts: no %s service runs on %s; list the compute hosts with"
            " fenix.maintenance.compute_host_info" % (COMPUTE_BINARY, ", ".join("'%s'" % host for host in missing))
        )
    return services


def desired_service(
    current: ServiceState,
    state: str,
    reason: str,
    force: bool,
    forced_down: Optional[bool],
    session_id: Optional[str] = None,
    recorded: bool = False,
) -> DesiredService:
    """What the service should look like for the caller (``session_id``, or None: no session).

    A disable someone else owns is kept as it is (with ``force`` it is taken over); enabling
    it raises NotOurs. ``recorded``: the session's journal says it disabled the host.
    """
    target_forced_down = current.forced_down if forced_down is None else forced_down
    owned = current.owned_by(session_id, recorded)
    if state == "disabled":
        if current.status == "disabled" and not owned and not force:
            # Someone else's disable stands as it is: taking it over would let
            # our enable undo their work later.
            return DesiredService("disabled", current.disabled_reason, target_forced_down)
        return DesiredService("disabled", managed_reason(reason, session_id), target_forced_down)
    if current.status == "disabled" and not owned and not force:
        raise NotOurs(not_ours_message(current, session_id))
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
        if current.status != "disabled":
            service = conn.compute.disable_service(
                service, disabled_reason=desired.disabled_reason
            ) or service
        elif current.disabled_reason != desired.disabled_reason:
            service = change_disabled_reason(conn, service, desired.disabled_reason)
    elif current.status != "enabled":
        service = conn.compute.enable_service(service) or service
    if not desired.forced_down and current.forced_down and desired.status == "disabled":
        service = conn.compute.update_service_forced_down(service, forced=False) or service
    return service_state(service)


def change_disabled_reason(conn, service, reason: Optional[str]):
    """A disabled service with a new reason.

    Nova (2.53) refuses a reason without a status, and the SDK's update sends
    only the fields whose value changed, so it would send the reason alone:
    the status goes with it in the request itself.
    """
    response = conn.compute.put("/os-services/%s" % service.id, json={"status": "disabled", "disabled_reason": reason},
                                microversion=SERVICE_MICROVERSION)
    if response.status_code >= 400:
        raise ReasonRefused("compute service %s: Nova refused its new disabled_reason (HTTP %s): %s"
                            % (getattr(service, "host", service.id), response.status_code, response.text))
    # Nova has no GET of one service: the list filtered by host reads it back.
    return next(found for found in conn.compute.services(binary=service.binary, host=service.host)
                if found.id == service.id)


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
