"""The microversion floors: one place for the versions the engine asks for, checked before a run."""

import pytest
from keystoneauth1 import exceptions as ks_exceptions

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud import snapshot, versions
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.versions import (
    ABORT_FLOOR,
    ABORT_QUEUED_FLOOR,
    FLOORS,
    VersionFloorError,
    floor_problem,
    require_floors,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError
from ansible_collections.fenix.maintenance.plugins.module_utils.planning import input as planning_input
from fakes import FakeCloud

HYPERVISORS = "2.53 (hypervisors with their resource provider; Nova of OpenStack Pike or later)"
FLAVORS = "2.47 (servers with their flavor's vCPU, RAM and disk; Nova of OpenStack Pike or later)"
LIVE_AUTO = "2.25 (live migration with block_migration auto; Nova of OpenStack Mitaka or later)"
FORCED_DOWN = "2.11 (the forced_down state of compute services; Nova of OpenStack Liberty or later)"
CANDIDATES = ("1.29 (allocation candidates with every resource class of each provider;"
              " Placement of OpenStack Rocky or later)")


def failure(cloud):
    with pytest.raises(VersionFloorError) as raised:
        require_floors(cloud)
    return str(raised.value)


def test_a_cloud_offering_every_floor_passes_with_one_read_per_service():
    cloud = FakeCloud()
    require_floors(cloud)
    assert cloud.version_reads == {"compute": 1, "placement": 1}
    assert not cloud.calls, "no API request beyond the version documents"


def test_exactly_the_floors_pass():
    cloud = FakeCloud()
    cloud.api_versions = {"compute": ("2.1", "2.53"), "placement": ("1.0", "1.29")}
    require_floors(cloud)


def test_compute_hypervisor_floor():
    cloud = FakeCloud()
    cloud.api_versions["compute"] = ("2.1", "2.52")
    assert failure(cloud) == "compute API: this collection needs microversion %s; the cloud offers 2.1 to 2.52" % (
        HYPERVISORS)


def test_compute_flavor_floor_ocata():
    cloud = FakeCloud()
    cloud.api_versions["compute"] = ("2.1", "2.42")  # Ocata's Nova
    assert failure(cloud) == ("compute API: this collection needs microversions %s and %s;"
                              " the cloud offers 2.1 to 2.42" % (FLAVORS, HYPERVISORS))


def test_compute_live_migration_floor():
    cloud = FakeCloud()
    cloud.api_versions["compute"] = ("2.1", "2.24")
    assert failure(cloud) == ("compute API: this collection needs microversions %s, %s and %s;"
                              " the cloud offers 2.1 to 2.24" % (LIVE_AUTO, FLAVORS, HYPERVISORS))


def test_compute_forced_down_floor():
    cloud = FakeCloud()
    cloud.api_versions["compute"] = ("2.1", "2.10")
    assert failure(cloud) == ("compute API: this collection needs microversions %s, %s, %s and %s;"
                              " the cloud offers 2.1 to 2.10" % (FORCED_DOWN, LIVE_AUTO, FLAVORS, HYPERVISORS))


def test_placement_floor_queens():
    cloud = FakeCloud()
    cloud.api_versions["placement"] = ("1.0", "1.17")  # Queens' Placement
    assert failure(cloud) == ("Placement API: this collection needs microversion %s; the cloud offers 1.0 to 1.17"
                              % CANDIDATES)


def test_both_services_short_are_named_in_one_message():
    cloud = FakeCloud()
    cloud.api_versions = {"compute": ("2.1", "2.52"), "placement": ("1.0", "1.28")}
    assert failure(cloud) == (
        "compute API: this collection needs microversion %s; the cloud offers 2.1 to 2.52."
        " Placement API: this collection needs microversion %s; the cloud offers 1.0 to 1.28"
        % (HYPERVISORS, CANDIDATES))


def test_a_raised_minimum_above_a_floor_fails_too():
    cloud = FakeCloud()
    cloud.api_versions["placement"] = ("1.30", "1.39")
    assert failure(cloud).endswith("the cloud offers 1.30 to 1.39")


def test_no_microversions_and_no_version_document():
    cloud = FakeCloud()
    cloud.api_versions = {"compute": ("", ""), "placement": None}
    assert failure(cloud) == (
        "compute API: this collection needs microversions %s, %s, %s and %s; the cloud offers no microversions."
        " Placement API: this collection needs microversion %s; the cloud has no version document for it"
        % (FORCED_DOWN, LIVE_AUTO, FLAVORS, HYPERVISORS, CANDIDATES))


def test_a_failed_discovery_is_a_message_not_a_traceback():
    cloud = FakeCloud()

    def unreachable():
        raise ks_exceptions.EndpointNotFound("no placement endpoint in the catalog")

    cloud.placement.get_endpoint_data = unreachable
    assert failure(cloud) == ("Placement API: this collection needs microversion %s; reading the cloud's version"
                              " document failed: no placement endpoint in the catalog" % CANDIDATES)


def test_the_error_is_a_maintenance_error():
    assert issubclass(VersionFloorError, MaintenanceError)  # the module base turns it into fail_json(msg)


def test_the_engine_asks_for_the_versions_of_the_table():
    floors = {(floor.service, floor.microversion) for floor in FLOORS}
    assert ("compute", snapshot.HYPERVISOR_MICROVERSION) in floors
    assert ("placement", planning_input.ALLOCATION_CANDIDATES_MICROVERSION) in floors
    assert snapshot.HYPERVISOR_MICROVERSION is versions.HYPERVISOR_MICROVERSION


@pytest.mark.parametrize("text, parsed", [("2.53", (2, 53)), ("1.0", (1, 0)), ((2, 1), (2, 1)), ("2", (2, 0))])
def test_parse_version(text, parsed):
    assert versions.parse_version(text) == parsed


def test_versions_compare_as_numbers_not_text():
    assert versions.is_offered("2.9", ((2, 1), (2, 10)))
    assert not versions.is_offered("2.53", ((2, 1), (2, 9)))


def test_one_floor_is_checked_only_when_asked_for():
    # The stuck-migration actions are checked when a migration needs them, not by require_floors.
    cloud = FakeCloud()
    cloud.api_versions["compute"] = ("2.1", "2.60")
    require_floors(cloud)
    assert floor_problem(cloud, ABORT_FLOOR) is None
    assert floor_problem(cloud, ABORT_QUEUED_FLOOR) == (
        "compute API: this collection needs microversion 2.65 (aborting a live migration that is queued or preparing;"
        " Nova of OpenStack Rocky or later); the cloud offers 2.1 to 2.60")
    assert cloud.version_reads["compute"] == 3 and not cloud.calls
