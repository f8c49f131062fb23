import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import (
    DisabledByOthers,
    HostSelection,
    NotOurs,
    ServiceState,
    apply_service,
    desired_service,
    find_compute_service,
    HostNotFound,
    managed_reason,
    needs_change,
    reason_session,
    select_hosts,
    validate_reason,
)
from fakes import FakeCloud


def state(status="enabled", reason=None, forced_down=False):
    return ServiceState(host="compute1", status=status, disabled_reason=reason, forced_down=forced_down)


def test_managed_reason_is_prefixed_once():
    assert managed_reason("kernel") == "fenix.maintenance: kernel"
    assert managed_reason("fenix.maintenance: kernel") == "fenix.maintenance: kernel"


def test_reason_too_long_names_the_field():
    with pytest.raises(ValueError, match="reason: .* shorten it"):
        validate_reason("x" * 250)
    validate_reason("x" * 200)


def test_disable_enabled_host():
    desired = desired_service(state(), "disabled", "kernel", False, None)
    assert desired.status == "disabled"
    assert desired.disabled_reason == "fenix.maintenance: kernel"
    assert needs_change(state(), desired)


def test_disable_twice_is_unchanged():
    current = state("disabled", "fenix.maintenance: kernel")
    assert not needs_change(current, desired_service(current, "disabled", "kernel", False, None))


def test_new_reason_on_our_disable_is_a_change():
    current = state("disabled", "fenix.maintenance: kernel")
    desired = desired_service(current, "disabled", "bios", False, None)
    assert needs_change(current, desired)
    assert desired.disabled_reason == "fenix.maintenance: bios"


def test_someone_elses_disable_is_kept():
    current = state("disabled", "broken disk")
    desired = desired_service(current, "disabled", "kernel", False, None)
    assert desired.disabled_reason == "broken disk"
    assert not needs_change(current, desired)


def test_force_takes_over_someone_elses_disable():
    current = state("disabled", "broken disk")
    desired = desired_service(current, "disabled", "kernel", True, None)
    assert desired.disabled_reason == "fenix.maintenance: kernel"
    assert needs_change(current, desired)


def test_enable_refuses_someone_elses_disable():
    with pytest.raises(NotOurs, match="force: true"):
        desired_service(state("disabled", "broken disk"), "enabled", "", False, None)


def test_enable_with_force_and_enable_of_enabled_host():
    desired = desired_service(state("disabled", "broken disk"), "enabled", "", True, None)
    assert desired.status == "enabled"
    assert not needs_change(state(), desired_service(state(), "enabled", "", False, None))


def test_forced_down_kept_unless_given():
    current = state(forced_down=True)
    assert desired_service(current, "enabled", "", False, None).forced_down is True
    assert desired_service(current, "enabled", "", False, False).forced_down is False


def test_apply_clears_forced_down_before_enabling():
    cloud = FakeCloud()
    service = cloud.services["compute1"]
    service.status, service.disabled_reason, service.is_forced_down = "disabled", "fenix.maintenance: x", True
    order = []
    original_force, original_enable = cloud.compute.update_service_forced_down, cloud.compute.enable_service
    cloud.compute.update_service_forced_down = lambda s, forced: order.append(("forced_down", forced)) or original_force(s, forced)
    cloud.compute.enable_service = lambda s: order.append(("enable",)) or original_enable(s)
    current = ServiceState("compute1", "disabled", "fenix.maintenance: x", True)
    after = apply_service(cloud, service, desired_service(current, "enabled", "", False, False))
    assert order == [("forced_down", False), ("enable",)]
    assert after.status == "enabled" and not after.forced_down


def test_a_disabled_host_gets_its_new_reason_with_its_status():
    """Nova refuses a reason alone (the fake as Nova does): the status goes with it in the request."""
    cloud = FakeCloud()
    service = cloud.services["compute1"]
    service.status, service.disabled_reason = "disabled", "fenix.maintenance: session s1: maintenance"
    current = ServiceState("compute1", "disabled", service.disabled_reason, False)
    desired = desired_service(current, "disabled", "compute1 failed: rc 1", False, False, session_id="s1")
    after = apply_service(cloud, service, desired)
    assert after.status == "disabled" and after.disabled_reason == "fenix.maintenance: session s1: compute1 failed: rc 1"
    assert cloud.calls["compute.put"] == 1 and cloud.calls["compute.disable_service"] == 0


def test_find_unknown_host_says_how_to_list():
    with pytest.raises(HostNotFound, match="compute_host_info"):
        find_compute_service(FakeCloud(), "nope")


# Ownership per session: "fenix.maintenance: session <id>: <why>" belongs to that session only.

def test_a_session_writes_its_id_in_the_reason_once():
    assert managed_reason("maintenance", "chg-1") == "fenix.maintenance: session chg-1: maintenance"
    assert managed_reason("", "chg-1") == "fenix.maintenance: session chg-1"
    # The role of earlier versions passed "session <id>" as the reason: it is not written twice.
    assert managed_reason("session chg-1", "chg-1") == "fenix.maintenance: session chg-1"
    assert managed_reason("fenix.maintenance: session chg-1: kernel", "chg-1") == "fenix.maintenance: session chg-1: kernel"


def test_the_session_is_read_back_from_the_reason():
    assert reason_session("fenix.maintenance: session chg-1: maintenance") == "chg-1"
    assert reason_session("fenix.maintenance: session rm-20260101T000000-42") == "rm-20260101T000000-42"
    assert reason_session("fenix.maintenance: session a:b: x") == "a:b"
    # Not a session: someone else's words, ours without a session, a reason that only starts like one.
    assert reason_session("RMA 7") is None
    assert reason_session("fenix.maintenance: kernel") is None
    assert reason_session("fenix.maintenance: session window of May") is None


def test_a_disable_is_owned_by_its_session_only():
    mine = state("disabled", "fenix.maintenance: session s1: maintenance")
    assert mine.owned_by("s1") and not mine.owned_by("s2") and not mine.owned_by(None)
    # A session whose id starts like another's is not that session.
    assert not state("disabled", "fenix.maintenance: session s10: x").owned_by("s1")
    # Without a session (a drain, a hand disable): owned by calls without a session, and by a session
    # only when its journal records that it disabled the host (reasons of earlier versions).
    plain = state("disabled", "fenix.maintenance: kernel")
    assert plain.owned_by(None) and not plain.owned_by("s1") and plain.owned_by("s1", recorded=True)
    foreign = state("disabled", "RMA 7")
    assert not foreign.owned_by(None) and not foreign.owned_by("s1", recorded=True)
    assert not state("enabled").owned_by("s1") and not state("enabled").owned_by(None)


def test_a_session_enables_only_its_own_disable():
    current = state("disabled", "fenix.maintenance: session s1: maintenance")
    assert desired_service(current, "enabled", "", False, None, session_id="s1").status == "enabled"
    with pytest.raises(NotOurs) as other:
        desired_service(current, "enabled", "", False, None, session_id="s2")
    assert str(other.value) == (
        "host compute1 is disabled by session s1 (disabled_reason: 'fenix.maintenance: session s1: maintenance'),"
        " not by session s2; it is left disabled. To enable it, resume session s1, or end it"
        " (playbooks/abort_maintenance.yml with rolling_maintenance_session_id=s1), which enables the hosts it"
        " disabled; or set force: true to enable it anyway")
    with pytest.raises(NotOurs, match="not by a call without session_id"):
        desired_service(current, "enabled", "", False, None)
    assert desired_service(current, "enabled", "", True, None, session_id="s2").status == "enabled"


def test_a_session_does_not_enable_a_disable_made_without_one_unless_its_journal_says_so():
    current = state("disabled", "fenix.maintenance: drain")
    with pytest.raises(NotOurs, match="by fenix.maintenance without a session .* enable it with"
                                      " fenix.maintenance.compute_service without session_id"):
        desired_service(current, "enabled", "", False, None, session_id="s1")
    assert desired_service(current, "enabled", "", False, None, session_id="s1", recorded=True).status == "enabled"
    assert desired_service(current, "enabled", "", False, None).status == "enabled"


def test_a_session_keeps_another_sessions_disable_and_relabels_its_own():
    other = state("disabled", "fenix.maintenance: session s2: maintenance")
    kept = desired_service(other, "disabled", "maintenance", False, None, session_id="s1")
    assert kept.disabled_reason == other.disabled_reason and not needs_change(other, kept)
    taken = desired_service(other, "disabled", "maintenance", True, None, session_id="s1")
    assert taken.disabled_reason == "fenix.maintenance: session s1: maintenance"
    own = state("disabled", "fenix.maintenance: session s1: maintenance")
    failed = desired_service(own, "disabled", "upgrade plugin failed (rc=2)", False, None, session_id="s1")
    assert failed.disabled_reason == "fenix.maintenance: session s1: upgrade plugin failed (rc=2)"
    assert needs_change(own, failed)
    # A reason of an earlier version of the role names the session without a why: it is the session's.
    old = state("disabled", "fenix.maintenance: session s1")
    assert desired_service(old, "disabled", "maintenance", False, None, session_id="s1").disabled_reason == (
        "fenix.maintenance: session s1: maintenance")


def test_reason_length_counts_the_session():
    validate_reason("x" * 200)
    with pytest.raises(ValueError, match=r"^reason: 256 characters as Nova would store it .* at most 255; shorten it"):
        validate_reason("x" * (255 - len("fenix.maintenance: session s1: ") + 1), "s1")
    validate_reason("x" * (255 - len("fenix.maintenance: session s1: ")), "s1")


def services(**reasons):
    """ServiceStates of compute1..4, disabled with the reasons given (host=reason)."""
    return [ServiceState(host, "disabled", reasons[host], False) if host in reasons
            else ServiceState(host, "enabled", None, False)
            for host in ("compute1", "compute2", "compute3", "compute4")]


def test_every_host_leaves_out_hosts_disabled_by_someone_else_and_names_them():
    states = services(compute2="RMA 7", compute3="fenix.maintenance: session s2: maintenance",
                      compute4="fenix.maintenance: session s1: maintenance")
    selection = select_hosts(states, [], False, session_id="s1")
    assert selection.hosts == ["compute1", "compute4"]
    assert selection.skipped == [
        {"host": "compute2", "disabled_reason": "RMA 7",
         "reason": "disabled by someone else (disabled_reason: 'RMA 7'); left out of the maintenance"},
        {"host": "compute3", "disabled_reason": "fenix.maintenance: session s2: maintenance",
         "reason": "disabled by session s2 (disabled_reason: 'fenix.maintenance: session s2: maintenance');"
                   " left out of the maintenance"},
    ]
    assert select_hosts(states, [], True, session_id="s1") == HostSelection(
        ["compute1", "compute2", "compute3", "compute4"])


def test_naming_a_host_disabled_by_someone_else_is_an_error_unless_included():
    states = services(compute2="RMA 7")
    with pytest.raises(DisabledByOthers) as error:
        select_hosts(states, ["compute1", "compute2"], False, session_id="s1")
    assert str(error.value) == (
        "hosts: compute2 is disabled by someone else (disabled_reason: 'RMA 7') (to give it back: ask whoever"
        " disabled it to enable it); nothing was changed. Leave such a host out of hosts, have it given back"
        " first, or set include_disabled: true (rolling_maintenance_include_disabled in the role) to maintain it"
        " anyway; it stays disabled afterwards")
    assert select_hosts(states, ["compute2", "compute1"], True, session_id="s1").hosts == ["compute1", "compute2"]
    # The session's own disable, and one its journal records, are no obstacle.
    own = services(compute2="fenix.maintenance: session s1", compute3="fenix.maintenance: kernel")
    assert select_hosts(own, ["compute2", "compute3"], False, "s1", recorded=["compute3"]).hosts == [
        "compute2", "compute3"]
    with pytest.raises(DisabledByOthers, match="compute3 is disabled by fenix.maintenance without a session"):
        select_hosts(own, ["compute3"], False, "s1")
