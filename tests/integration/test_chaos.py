"""Kill anywhere, in CI: one session of two hosts SIGKILLed five times at fixed moments and resumed to its end.

tests/integration/chaos.py is the script (30 points on demand); this runs its fixed subset and asserts its verdict.
"""

from __future__ import annotations

from chaos import chaos_session, print_verdicts

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

# Seconds after each run's start: the prepare play, the projects' asks, the batches' moves, plugins and gate.
DELAYS = [6.0, 17.0, 28.0, 39.0, 50.0]


def test_five_kills_and_resumes_end_as_one_clean_run(tmp_path, test_cloud):
    verdict = chaos_session(str(tmp_path), "chaos-ci", DELAYS, hosts=["compute1", "compute2"])
    print_verdicts([verdict], verdict.seconds)
    killed = [kill for kill in verdict.kills if not kill.ended_before]
    assert len(killed) >= 3, "the runs ended before most kills: %s" % verdict.kills
    assert verdict.ok, verdict.problems
    # The killed runs' leases stood in nobody's way: each resumed run took the session over at once, and the last
    # one gave it up at its end.
    journal = Journal(str(tmp_path / "journal.sqlite"))
    leases = [(event["kind"], event["details"]) for event in journal.events("chaos-ci") if event["kind"].startswith("lease.")]
    holders = [details["holder"] for kind, details in leases if kind == "lease.acquired"]
    assert len(holders) == len(set(holders)) >= len(killed), leases
    assert leases[-1][0] == "lease.released" and journal.lease("chaos-ci") is None
