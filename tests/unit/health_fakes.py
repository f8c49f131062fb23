"""The fake SDK (fakes.py) with what the health gate reads: nova-compute's reports, Placement providers by name."""

from __future__ import annotations

import itertools

from fakes import FakeCloud, FakeResponse, _Compute, _Placement

FIRST_REPORT = "2026-11-22T11:00:00.000000"


class HealthCloud(FakeCloud):
    """A FakeCloud whose running nova-compute services report between any two reads of the services.

    ``stopped_computes``: hosts whose nova-compute is stopped (no report; Nova
    still shows what the test sets as ``state``). ``providers_missing`` /
    ``inventories_missing``: hosts whose resource provider Placement lacks,
    or whose provider has no inventory.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stopped_computes = set()
        self.providers_missing = set()
        self.inventories_missing = set()
        self.reports = itertools.count(1)
        for service in self.services.values():
            service.updated_at = FIRST_REPORT
        self.compute = _ReportingCompute(self)
        self.placement = _NamedPlacement(self)


class _ReportingCompute(_Compute):
    def services(self, binary=None, host=None):
        for service in self.cloud.services.values():
            if service.host not in self.cloud.stopped_computes:
                minute, second = divmod(next(self.cloud.reports) % 3600, 60)
                service.updated_at = "2026-11-22T11:%02d:%02d.000000" % (minute, second)
        return super().services(binary=binary, host=host)


class _NamedPlacement(_Placement):
    def get(self, url, microversion=None):
        if url.startswith("/resource_providers?name="):
            self.cloud.calls["placement.get"] += 1
            host = url.split("=", 1)[1]
            found = host in self.cloud.services and host not in self.cloud.providers_missing
            return FakeResponse({"resource_providers": [{"uuid": "rp-" + host, "name": host, "generation": 1}]
                                 if found else []})
        if url.endswith("/inventories") and url.split("/")[2][len("rp-"):] in self.cloud.inventories_missing:
            self.cloud.calls["placement.get"] += 1
            return FakeResponse({"resource_provider_generation": 1, "inventories": {}})
        return super().get(url, microversion=microversion)
