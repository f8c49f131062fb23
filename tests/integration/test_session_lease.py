"""One run per session, on the test cloud: two ansible-playbook runs of the same session at once.

The first run holds the session's lease; the second, started while the first
runs, fails at once, before it starts an API or touches the session, naming
the first run; the first run finishes. (A run killed with SIGKILL and resumed
at once is test_rolling_maintenance.py's killed-run test.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import CLOUDCTL
from test_rolling_maintenance import (
    ABORT,
    Run,
    enabled_everywhere,
    host_plugin_runs,
    start_vnfms,
    stop_all,
    webhook_urls,
)

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import SessionNotFound
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

SESSION = "e2e-lease"


@pytest.fixture
def seeded(test_cloud):
    """A freshly seeded cloud, all hosts enabled (the run moves servers off compute1)."""
    subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(test_cloud, "seed.json")) as handle:
        return json.load(handle)


def lease_events(journal_path: str) -> list:
    return [(event["kind"], event["details"]) for event in Journal(journal_path).events(SESSION)
            if event["kind"].startswith("lease.")]


def lease_held(run) -> bool:
    if not os.path.exists(run.journal):
        return False
    try:
        return Journal(run.journal).lease(SESSION) is not None
    except SessionNotFound:
        return False


def test_a_second_run_of_a_session_fails_at_once_naming_the_run_that_holds_it(tmp_path, seeded, admin):
    vnfms = start_vnfms(tmp_path, seeded, {"tenant-a": "live_migrate", "tenant-b": "migrate", "tenant-c": "migrate"})
    actions = [{"plugin": "dummy", "type": "host", "metadata": {"seconds": 4}}]
    run = Run(tmp_path, SESSION, webhook_urls(seeded, vnfms), rolling_maintenance_hosts=["compute1"],
              rolling_maintenance_actions=actions)
    first = run.start()
    try:
        deadline = time.monotonic() + 120
        while not lease_held(run):
            assert first.poll() is None and time.monotonic() < deadline, "the first run never held the lease"
            time.sleep(0.2)
        held = Journal(run.journal).lease(SESSION)
        began = time.monotonic()
        code, output = run.run(timeout=120)
        refused_after = time.monotonic() - began
        assert first.poll() is None, "the first run ended before the second was refused: no race was tested"
        first_code = first.wait(timeout=600)
    finally:
        stop_all(vnfms)
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
        if os.path.exists(run.journal) and run.session().state != "MAINTENANCE_DONE":
            run.run(playbook=ABORT)  # leave no host disabled for the tests after this one
    assert code != 0
    assert refused_after < 60, "refused after %.0f s, not at once" % refused_after
    assert "session %s is being run by %s since " % (SESSION, held.holder) in output, output[-3000:]
    # Refused before anything changed: the second run neither started an API nor resumed or touched the session.
    for task in ("Start the maintenance API for this run", "Create or resume the session"):
        assert "TASK [fenix.maintenance.rolling_maintenance : %s]" % task not in output, task
    with open(os.path.join(run.workdir, "run-1.log")) as handle:
        assert first_code == 0, handle.read()[-3000:]
    assert run.session().state == "MAINTENANCE_DONE"
    assert host_plugin_runs(run.journal, SESSION) == {"compute1": 1}
    assert lease_events(run.journal) == [("lease.acquired", {"holder": held.holder}),
                                         ("lease.released", {"holder": held.holder})]
    assert enabled_everywhere(admin)
