# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Time as the journal writes it and as Fenix sends it, in one place.

The journal stamps every record in UTC with microseconds (``TIME_FORMAT``);
Fenix's wire format has no zone and no fraction (``FENIX_TIME``). Both, and
ISO 8601 as other clients send it, are read back by ``parse_time``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Optional

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# Fenix writes times in UTC without a zone, and VNFMs parse exactly this.
FENIX_TIME = "%Y-%m-%d %H:%M:%S"
# The journal's form first: it is by far the most often read; the last is Nova's (a migration's created_at).
ACCEPTED_FORMATS = (TIME_FORMAT, FENIX_TIME, "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f")


def utc_datetime() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(timezone.utc)


def utc_now() -> str:
    """The current time as the journal stamps it."""
    return utc_datetime().strftime(TIME_FORMAT)


def parse_time(value: str) -> datetime:
    """A journal stamp, a Fenix time or ISO 8601 UTC as an aware datetime; ValueError names the forms."""
    if isinstance(value, str):
        parsed = _parsed(value)
        if parsed is not None:
            return parsed
    raise ValueError("%r is not a time; write it in UTC as 'YYYY-MM-DD HH:MM:SS'" % (value,))


# A report measures every time from the session's start, so the same stamps are read again and again.
@lru_cache(maxsize=4096)
def _parsed(value: str) -> Optional[datetime]:
    for form in ACCEPTED_FORMATS:
        try:
            return datetime.strptime(value, form).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def fenix_time(moment: Optional[datetime]) -> Optional[str]:
    """A time as Fenix sends it to projects."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(FENIX_TIME)


def iso_time(moment: datetime) -> str:
    """A time in ISO 8601 UTC to the second, as sessions store maintenance_at."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_between(start: Optional[str], end: Optional[str]) -> Optional[float]:
    """Seconds from one stamp to another, to the millisecond; None when either is missing."""
    if not start or not end:
        return None
    return round((parse_time(end) - parse_time(start)).total_seconds(), 3)
