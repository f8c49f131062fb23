from datetime import datetime, timezone

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import (
    TIME_FORMAT,
    fenix_time,
    parse_time,
    seconds_between,
    utc_datetime,
    utc_now,
)

WHEN = datetime(2026, 12, 1, 2, 0, 0, 123456, tzinfo=timezone.utc)


def test_times_are_fenix_form_on_the_wire():
    assert fenix_time(WHEN) == "2026-12-01 02:00:00"
    assert fenix_time(None) is None


@pytest.mark.parametrize("text", ["2026-12-01T02:00:00Z", "2026-12-01 02:00:00", "2026-12-01T02:00:00"])
def test_parse_time_reads_fenix_and_iso_forms(text):
    assert parse_time(text) == WHEN.replace(microsecond=0)


def test_parse_time_reads_the_journal_stamp_exactly():
    assert parse_time("2026-12-01T02:00:00.123456Z") == WHEN


@pytest.mark.parametrize("text", ["tomorrow", "", None])
def test_parse_time_names_the_form_it_wants(text):
    with pytest.raises(ValueError, match="is not a time; write it in UTC as 'YYYY-MM-DD HH:MM:SS'"):
        parse_time(text)


def test_utc_now_is_a_journal_stamp_and_utc_datetime_is_aware():
    stamp = utc_now()
    assert datetime.strptime(stamp, TIME_FORMAT)
    assert utc_datetime().tzinfo is timezone.utc


def test_seconds_between_stamps_to_the_millisecond():
    assert seconds_between("2026-12-01T02:00:00.000000Z", "2026-12-01T02:01:01.500400Z") == 61.5
    assert seconds_between(None, "2026-12-01T02:00:00.000000Z") is None
    assert seconds_between("2026-12-01T02:00:00.000000Z", "") is None
