"""The one UTC offset parser of the DICOM, aECG and HL7 v2 readers: the offsets in use, -1200 to +1400."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ecgdesk.utc_offset import split_offset, utc_offset


@pytest.mark.parametrize(("text", "hours"), [("+0000", 0), ("-0000", 0), ("+1400", 14), ("-1200", -12),
                                             ("+0545", 5.75), ("-0930", -9.5), (" +0100 ", 1)])
def test_an_offset_in_use_is_read(text: str, hours: float) -> None:
    assert utc_offset(text) == timedelta(hours=hours)


@pytest.mark.parametrize(("text", "words"), [("+1401", "outside"), ("-1201", "outside"), ("+9900", "outside"),
                                             ("+0560", "minutes"), ("+05", "form"), ("+05:00", "form"),
                                             ("0500", "form"), ("", "form")])
def test_an_offset_that_is_none_is_refused_saying_why(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        utc_offset(text)


def test_a_date_time_splits_from_its_offset() -> None:
    assert split_offset("20261207103000.5-0500") == ("20261207103000.5", "-0500")
    assert split_offset("20261207103000") == ("20261207103000", None)
