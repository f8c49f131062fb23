# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Who is calling the maintenance API: Keystone tokens, validated once and cached."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Dict, FrozenSet, Optional, Tuple

ADMIN_ROLE = "admin"


@dataclass(frozen=True)
class Caller:
    user_id: Optional[str]
    project_id: Optional[str]
    roles: FrozenSet[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    def may_act_for(self, project_id: Optional[str]) -> bool:
        return self.is_admin or (project_id is not None and project_id == self.project_id)


# Lab mode: everyone is an admin. The service says so loudly when it starts.
NOBODY_CHECKED = Caller(user_id=None, project_id=None, roles=frozenset([ADMIN_ROLE]))


class Unauthorized(Exception):
    """No token, or one Keystone does not accept."""


class KeystoneTokens:
    """Validates X-Auth-Token values against Keystone and caches each result for the token's lifetime.

    ``identity`` is an authenticated openstacksdk identity proxy (a
    keystoneauth adapter on the v3 endpoint) of the service's own user.
    A validation is kept until the token expires, but at most ``max_ttl``
    seconds, so a revoked token stops working within that time.
    """

    def __init__(self, identity, max_ttl: float = 300.0, max_entries: int = 10000,
                 clock: Callable[[], float] = time.time) -> None:
        self.identity = identity
        self.max_ttl = max_ttl
        self.max_entries = max_entries
        self.clock = clock
        self.validations = 0
        self._cache: Dict[str, Tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def caller(self, token: Optional[str]) -> Caller:
        if not token:
            raise Unauthorized("X-Auth-Token: missing; send a Keystone token")
        key = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        now = self.clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached and cached[0] > now:
            return cached[1]
        caller, expires = self._validate(token)
        with self._lock:
            if len(self._cache) >= self.max_entries:
                self._evict(now)
            self._cache[key] = (min(expires, now + self.max_ttl), caller)
        return caller

    def _validate(self, token: str) -> Tuple[Caller, float]:
        self.validations += 1
        response = self.identity.get("/auth/tokens", headers={"X-Subject-Token": token}, raise_exc=False)
        if response.status_code != 200:
            raise Unauthorized("X-Auth-Token: Keystone does not accept the token (HTTP %d)" % response.status_code)
        body = response.json()["token"]
        caller = Caller(
            user_id=(body.get("user") or {}).get("id"),
            project_id=(body.get("project") or {}).get("id"),
            roles=frozenset(role["name"] for role in body.get("roles") or ()),
        )
        return caller, _epoch(body["expires_at"])

    def _evict(self, now: float) -> None:
        expired = [key for key, (until, _caller) in self._cache.items() if until <= now]
        for key in expired or list(self._cache)[: self.max_entries // 10 or 1]:
            del self._cache[key]


def _epoch(stamp: str) -> float:
    """Keystone's expires_at (ISO 8601, Z or offset, with or without fraction) as epoch seconds."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
