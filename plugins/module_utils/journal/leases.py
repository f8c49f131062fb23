# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The journal's leases: one run per session.

A run acquires its session's lease before it acts, renews it while it runs and
releases it at the end. Another run of the session is refused at once while
the lease is renewed; a holder that stops renewing (killed, machine lost) lets
its lease expire, and the next run takes it over: resuming after SIGKILL needs
no manual step. A run on the holder's own machine may see that the holder's
process has ended and take its lease over at once (``ended``, judged by
``lease_keeper.holder_ended``); ``lease_keeper`` also names the holder and
renews the lease while its run lives.

Each change is one compare-and-set statement: an INSERT that does nothing when
the session has a lease, or an UPDATE of exactly the lease that was read
(holder, acquired_at, expires_at). Of runs racing for a lease one changes a row
and the others change none and are refused, on SQLite and on PostgreSQL at its
default isolation (READ COMMITTED re-checks an UPDATE's condition on the row
the winner committed).

Expiry is judged by the acquiring run's clock (the journal's ``clock``):
machines sharing a journal need clocks that agree to well within a lease's
duration.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Callable, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import (
    TIME_FORMAT,
    iso_time,
    parse_time,
    seconds_between,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.core import JournalCore
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    JournalError,
    Lease,
    LeaseHeld,
    LeaseLost,
    record_from_row,
)

LEASE_ACQUIRED = "lease.acquired"
LEASE_RELEASED = "lease.released"
LEASE_EVENTS = (LEASE_ACQUIRED, LEASE_RELEASED)

# A lease that changes hands between being read and being taken is read again, a few times at most.
_ATTEMPTS = 3

# Whether a lease's holder is gone for sure (its process ended): judged by the caller, who knows its machine.
HolderEnded = Callable[[Lease], bool]


class LeasesMixin(JournalCore):
    """The leases table (part of Journal, which supplies ``session`` and ``_event``)."""

    def acquire_lease(self, session_id: str, holder: str, ttl: float, ended: Optional[HolderEnded] = None) -> Lease:
        """The session's lease for ``holder``, valid ``ttl`` seconds: taken when free or expired.

        Acquiring a lease one holds already renews it (a retried task is not
        refused by itself). LeaseHeld when another holder's lease has not
        expired, unless ``ended`` says that holder is gone for sure (its
        process ended on this machine): such a lease is taken over at once.
        """
        check_lease_request(holder, ttl)
        with self.transaction():
            self.session(session_id)
            for _attempt in range(_ATTEMPTS):
                now = self.clock()
                current = self.lease(session_id)
                if held_by_another(current, holder, now, ended):
                    raise LeaseHeld(held_message(current, now), current)
                if self._take_lease(session_id, holder, now, ttl, current):
                    self._log_acquired(session_id, holder, current, now)
                    return self.lease(session_id)
        raise JournalError("session %s: its lease changed hands %d times while %s tried to acquire it;"
                           " run again" % (session_id, _ATTEMPTS, holder))

    def renew_lease(self, session_id: str, holder: str, ttl: float) -> Lease:
        """The holder's lease, valid ``ttl`` seconds from now; LeaseLost when it is not the holder's any more.

        A lease that expired but that no other run took is still its holder's:
        renewing it late keeps it.
        """
        check_lease_request(holder, ttl)
        with self.transaction():
            self.session(session_id)
            now = self.clock()
            renewed = self._run(
                "UPDATE leases SET renewed_at = ?, expires_at = ? WHERE session_id = ? AND holder = ?",
                (now, stamp_after(now, ttl), session_id, holder),
            ).rowcount
            current = self.lease(session_id)
            if not renewed:
                raise LeaseLost(lost_message(session_id, holder, current))
            return current

    def release_lease(self, session_id: str, holder: str) -> bool:
        """Whether ``holder`` released a lease it held.

        Idempotent, and a no-op for anyone but the holder: a run that lost its
        lease to a takeover may release it on its way out (or a session
        deleted since) without failing, and without freeing the new holder's.
        """
        with self.transaction():
            released = self._run("DELETE FROM leases WHERE session_id = ? AND holder = ?",
                                 (session_id, holder)).rowcount == 1
            if released:
                self._event(session_id, LEASE_RELEASED, details={"holder": holder})
        return released

    def lease(self, session_id: str) -> Optional[Lease]:
        """The session's lease as recorded (expired or not), or None."""
        row = self._run("SELECT * FROM leases WHERE session_id = ?", (session_id,)).fetchone()
        return None if row is None else record_from_row(Lease, row)

    def held_lease(self, session_id: str, holder: Optional[str] = None,
                   ended: Optional[HolderEnded] = None) -> Optional[Lease]:
        """The session's lease when a run other than ``holder`` holds it (what acquire_lease would refuse), or None."""
        current = self.lease(session_id)
        return current if held_by_another(current, holder, self.clock(), ended) else None

    def _take_lease(self, session_id: str, holder: str, now: str, ttl: float, current: Optional[Lease]) -> bool:
        """Write the holder's lease if the session's lease is still ``current``; whether it was written."""
        expires_at = stamp_after(now, ttl)
        if current is None:
            return self._run(
                "INSERT INTO leases (session_id, holder, acquired_at, renewed_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING",
                (session_id, holder, now, now, expires_at),
            ).rowcount == 1
        acquired_at = current.acquired_at if current.holder == holder else now
        return self._run(
            "UPDATE leases SET holder = ?, acquired_at = ?, renewed_at = ?, expires_at = ?"
            " WHERE session_id = ? AND holder = ? AND acquired_at = ? AND expires_at = ?",
            (holder, acquired_at, now, expires_at, session_id, current.holder, current.acquired_at,
             current.expires_at),
        ).rowcount == 1

    def _log_acquired(self, session_id: str, holder: str, previous: Optional[Lease], now: str) -> None:
        if previous is not None and previous.holder == holder:
            return  # renewed through acquire: nothing changed hands
        details = {"holder": holder}
        if previous is not None and lease_expired(previous, now):
            details.update(taken_over_from=previous.holder, expired_at=previous.expires_at)
        elif previous is not None:
            details.update(taken_over_from=previous.holder, holder_ended=True)
        self._event(session_id, LEASE_ACQUIRED, details=details)


def check_lease_request(holder: str, ttl: float) -> None:
    if not isinstance(holder, str) or not holder.strip():
        raise JournalError("holder: name the run that holds the lease (for example 'ansible-playbook pid 1234"
                           " on host-a'), got %r" % (holder,))
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise JournalError("ttl: a lease lasts a positive number of seconds, got %r" % (ttl,))


def stamp_after(stamp: str, seconds: float) -> str:
    """The journal stamp ``seconds`` after ``stamp``."""
    return (parse_time(stamp) + timedelta(seconds=seconds)).strftime(TIME_FORMAT)


def lease_expired(lease: Lease, now: str) -> bool:
    return parse_time(now) >= parse_time(lease.expires_at)


def held_by_another(current: Optional[Lease], holder: Optional[str], now: str, ended: Optional[HolderEnded]) -> bool:
    """Whether ``current`` keeps ``holder`` out: another holder's lease, unexpired, its holder not known to be gone."""
    if current is None or current.holder == holder or lease_expired(current, now):
        return False
    return ended is None or not ended(current)


def held_message(lease: Lease, now: str) -> str:
    renewed_ago = max(0, int(round(seconds_between(lease.renewed_at, now) or 0)))
    return (
        "session %s is being run by %s since %s (lease renewed %d s ago, expires %s); wait for that run to end,"
        " or stop it and run again: a lease its holder no longer renews is taken over once it expires, and at"
        " once from the holder's own machine when its process has ended"
        % (lease.session_id, lease.holder, shown(lease.acquired_at), renewed_ago, shown(lease.expires_at))
    )


def lost_message(session_id: str, holder: str, current: Optional[Lease]) -> str:
    if current is None:
        return ("session %s: %s holds no lease on it (released, or taken over and released since);"
                " stop this run and acquire the lease again before acting on the session" % (session_id, holder))
    return ("session %s: %s lost its lease: it expired and %s took it over at %s; stop this run, the session"
            " is run by %s" % (session_id, holder, current.holder, shown(current.acquired_at), current.holder))


def shown(stamp: str) -> str:
    """A journal stamp to the second, for messages."""
    return iso_time(parse_time(stamp))
