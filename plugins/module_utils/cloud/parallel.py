# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Independent API requests sent together: a batch's hosts cost the time of one request, not one each.

The requests share the module's openstacksdk connection (its keystoneauth
session pools the HTTP connections and serialises getting a token).

A token the service refuses (401) is renewed by keystoneauth for one request
only when several are in flight: the first to be refused invalidates it, and
the others, finding it invalidated already, give up. That is what a module run
meets with a kept token (``token_cache``) Keystone no longer accepts - the
cloud restarted with new keys, the token revoked. A 401 means the service did
nothing, so such a request is sent once more, with the renewed token.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Callable, Iterable, List, TypeVar

# Requests in flight at once: enough for a batch's hosts, few enough not to flood a cloud's API from one module.
CONCURRENCY = 8
# A request refused for its token.
UNAUTHORIZED = 401

Item = TypeVar("Item")
Result = TypeVar("Result")


def call_each(call: Callable[[Item], Result], items: Iterable[Item]) -> List[Result]:
    """``call(item)`` for every item, up to CONCURRENCY at once; the results in the order of ``items``.

    The first exception a call raised is raised once the calls in flight are done.
    """
    items = list(items)
    if len(items) < 2:
        return [call(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(CONCURRENCY, len(items))) as pool:
        return list(pool.map(partial(again_if_the_token_was_refused, call), items))


def again_if_the_token_was_refused(call: Callable[[Item], Result], item: Item) -> Result:
    """``call(item)``, once more when it was refused for its token (401): another request in flight renewed it."""
    try:
        return call(item)
    except Exception as exc:  # the SDK's and keystoneauth's errors alike carry the status
        if UNAUTHORIZED not in (getattr(exc, "status_code", None), getattr(exc, "http_status", None)):
            raise
    return call(item)
