import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import (
    NotOurs,
    ServiceState,
    apply_service,
    desired_service,
    find_compute_service,
    HostNotFound,
    managed_reason,
    needs_change,
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


def test_find_unknown_host_says_how_to_list():
    with pytest.raises(HostNotFound, match="compute_host_info"):
        find_compute_service(FakeCloud(), "nope")
