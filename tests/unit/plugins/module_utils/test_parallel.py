import threading

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.parallel import CONCURRENCY, call_each
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import list_servers
from fakes import CallsTogether, FakeCloud


def test_the_calls_are_in_flight_together_and_the_results_keep_the_order():
    together = threading.Barrier(4, timeout=10)

    def call(item):
        together.wait()  # broken, and so raising, unless the four calls run at once
        return item * 10

    assert call_each(call, [3, 1, 4, 2]) == [30, 10, 40, 20]


def test_no_more_than_concurrency_calls_are_in_flight():
    lock, in_flight, most = threading.Lock(), [0], [0]

    def call(item):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        threading.Event().wait(0.01)
        with lock:
            in_flight[0] -= 1
        return item

    assert call_each(call, range(3 * CONCURRENCY)) == list(range(3 * CONCURRENCY))
    assert 1 < most[0] <= CONCURRENCY


def test_a_failed_call_is_raised_once_the_others_are_done():
    done = []

    def call(item):
        if item == 1:
            raise LookupError("no %d" % item)
        threading.Event().wait(0.05)
        done.append(item)
        return item

    with pytest.raises(LookupError, match="no 1"):
        call_each(call, [0, 1, 2])
    assert sorted(done) == [0, 2]


def test_the_servers_of_several_hosts_are_listed_together_host_after_host():
    cloud = FakeCloud()
    ids = {host: [cloud.add_server(host) for _index in range(2)] for host in ("compute3", "compute1", "compute2")}
    cloud.compute = CallsTogether(cloud.compute, "servers", 3)
    servers = list_servers(cloud, ["compute2", "compute1", "compute3"])
    assert [server.id for server in servers] == ids["compute2"] + ids["compute1"] + ids["compute3"]


class Refused(Exception):
    """A 401 as openstacksdk raises it."""
    status_code = 401


def test_calls_refused_for_their_token_together_are_sent_once_more():
    sent = []
    together = threading.Barrier(3, timeout=10)

    def call(item):
        sent.append(item)
        if sent.count(item) == 1:
            together.wait()  # all three in flight with the old token
            raise Refused("The request you have made requires authentication.")
        return item * 10

    assert call_each(call, [1, 2, 3]) == [10, 20, 30]
    assert sorted(sent) == [1, 1, 2, 2, 3, 3]


def test_a_token_refused_twice_and_other_errors_are_raised():
    sent = []

    def refused(item):
        sent.append(item)
        raise Refused("still refused")

    with pytest.raises(Refused):
        call_each(refused, [1, 2])
    # (a call not started when the first error came back is not sent at all)
    assert sent and all(sent.count(item) == 2 for item in sent)

    def forbidden(item):
        sent.append(item)
        error = Refused("forbidden")
        error.status_code = 403
        raise error

    del sent[:]
    with pytest.raises(Refused, match="forbidden"):
        call_each(forbidden, [1, 2])
    assert sent and all(sent.count(item) == 1 for item in sent)
