#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: maintenance_lease
short_description: Hold a maintenance session's lease for this playbook run (one run per session)
version_added: 0.2.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - One run per session at a time. With O(state=acquired), the ansible-playbook run this task is part of
    acquires the session's lease in the journal, and a small keeper process renews it until the run ends.
    Another run of the same session (a second operator, an AWX retry, the API's launcher and a hand run) is
    refused at once, before it changes anything, with the holder and since when -
    C(session <id> is being run by <holder> since <time> (lease renewed <n> s ago, expires <time>)).
  - The holder is the ansible-playbook process, named
    C(<hostname>:<pid>:<start ticks>:<tag of boot and pid namespace> (user <user>, <what started it>)), what
    started it being C(started from <program>), C(ansible-runner <ident>) (the API service's launcher) or
    C(AWX job <id>). The module finds that process among its parents, so it runs on the controller, on
    C(localhost) with the local connection.
  - The keeper runs in its own process session (killing the playbook's process group does not kill it),
    renews the lease every O(ttl)/3 seconds while the ansible-playbook process lives, and releases it within a
    second once that process has ended, killed or not.
  - A lease nobody renews any more (the controller lost, the keeper killed with it) is taken over once it has
    expired, O(ttl) seconds after its last renewal. On the holder's own machine, a run that finds the holder's
    ansible-playbook process ended takes its lease over at once. So a run resumed after SIGKILL needs no manual
    step.
  - With O(state=released), gives up the lease this run holds (the keeper stops at its next renewal); a lease
    held by another run, or none, is left as it is.
  - Acquiring the lease this run holds already renews it and changes nothing.
options:
  session_id:
    description:
      - The session whose lease to acquire or release. It must be in the journal.
    type: str
    required: true
  state:
    description:
      - V(acquired) holds the lease for this run; V(released) gives it up.
    type: str
    choices: [acquired, released]
    default: acquired
  ttl:
    description:
      - How long, in seconds, the lease holds after each renewal, so how long another machine waits to take
        over the session of a run that was lost without releasing it. At least 5.
      - The keeper renews it every O(ttl)/3 seconds.
      - Used with O(state=acquired).
    type: float
    default: 60
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - fenix.maintenance.openstack
  - fenix.maintenance.journal
  - fenix.maintenance.openstack.SESSION_ATTRIBUTES
attributes:
  platform:
    support: full
    platforms: posix
    details: Linux (C(/proc)), on the controller.
  check_mode:
    support: full
    details: >-
      Acquires, releases and starts nothing. C(changed) says whether the lease would change hands, and a lease
      held by another live run fails the task as the real run would.
  diff_mode:
    support: none
notes:
  - Machines sharing a PostgreSQL journal need clocks that agree to well within O(ttl).
  - The connection options are accepted so that C(module_defaults) of the action group apply, but they are
    not used.
  - In C(ps) the keeper shows the command line of the module it was started from (C(AnsiballZ_maintenance_lease.py)).
seealso:
  - module: fenix.maintenance.maintenance_session
"""

EXAMPLES = r"""
- name: Hold the session's lease for this run (fails at once while another run holds it)
  fenix.maintenance.maintenance_lease:
    session_id: chg-1234
    ttl: 60
  register: lease

- name: Give it up at the end of the run
  fenix.maintenance.maintenance_lease:
    session_id: chg-1234
    state: released
"""

RETURN = r"""
holder:
  description: This run's name as a lease holder.
  returned: always
  type: str
  sample: "ctl-1:28718:4406512:3f2a9c1d (user stack, started from bash)"
lease:
  description:
    - The session's lease after the module ran (before it, in check mode); null when it has none.
  returned: always
  type: dict
  contains:
    session_id:
      description: The session.
      type: str
      sample: chg-1234
    holder:
      description: The run that holds it.
      type: str
      sample: "ctl-1:28718:4406512:3f2a9c1d (user stack, started from bash)"
    acquired_at:
      description: When the holder acquired it (UTC).
      type: str
      sample: "2026-11-22T12:00:00.000000Z"
    renewed_at:
      description: When it was last renewed (UTC).
      type: str
      sample: "2026-11-22T12:00:20.000000Z"
    expires_at:
      description: When another run may take it over unless it is renewed (UTC).
      type: str
      sample: "2026-11-22T12:01:20.000000Z"
taken_over_from:
  description:
    - The holder whose lease this run took over (it had expired, or its process had ended on this machine);
      null otherwise.
  returned: always
  type: str
  sample: "ctl-1:27001:4400017:3f2a9c1d (user stack, started from bash)"
keeper_pid:
  description: The pid of the keeper process started for the lease; null when none was started.
  returned: always
  type: int
  sample: 28790
journal:
  description: The journal, a file path or a PostgreSQL DSN without its password.
  returned: always
  type: str
  sample: /root/.local/state/fenix.maintenance/journal.sqlite
"""

from ansible_collections.fenix.maintenance.plugins.module_utils.base import OpenStackModule
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.lease_keeper import (
    check_ttl,
    current_holder,
    hold_for_this_run,
    lease_view,
)


class MaintenanceLeaseModule(OpenStackModule):
    argument_spec = dict(
        session_id=dict(required=True),
        state=dict(default="acquired", choices=["acquired", "released"]),
        ttl=dict(type="float", default=60),
    )
    module_kwargs = dict(supports_check_mode=True)
    uses_journal = True

    def run(self) -> dict:
        session_id, ttl = self.params["session_id"], self.params["ttl"]
        check_ttl(ttl)
        if self.check_mode and not self.journal_exists:
            self.fail("session_id: session %s is not in the journal %s (it has no journal yet); create the session"
                      " first (maintenance_session)" % (session_id, self.journal_shown))
        self.session(session_id)
        if self.params["state"] == "released":
            return self.release(session_id)
        result = hold_for_this_run(self.journal, self.journal_location, session_id, ttl, self.check_mode, self.close)
        return dict(result, journal=self.journal_shown)

    def release(self, session_id) -> dict:
        _run, holder, current = current_holder(self.journal, session_id)
        result = dict(changed=False, holder=holder, lease=lease_view(current), taken_over_from=None, keeper_pid=None,
                      journal=self.journal_shown)
        if current is None or current.holder != holder:
            return result  # another run's, or none: not this run's to give up
        result["changed"] = True
        if not self.check_mode:
            self.journal.release_lease(session_id, holder)
            result["lease"] = None
        return result


def main() -> None:
    module = MaintenanceLeaseModule()
    module()


if __name__ == "__main__":
    main()
