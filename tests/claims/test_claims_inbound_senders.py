"""Inbound X12 as real payers and clearinghouses write it (found by running public sample files through
the readers): numbers that are not numbers, segments of one position in any order, a 277CA without the
billing provider's status, remark codes beside negative amounts, several claim statuses."""

from __future__ import annotations

import pytest

from ecgdesk.claims import X12ValidationError, read_999

ISA = ("ISA*00*          *00*          *ZZ*PAYER          *ZZ*PROVIDER       *240101*1200*^*00501*000000001"
       "*0*P*:")


def _interchange(functional_id: str, version: str, header: str, body: list[str]) -> str:
    """One interchange, one group, one set around ``body``, with its counts and control numbers."""
    segments = [header, *body]
    return "~\n".join(
        [
            ISA,
            f"GS*{functional_id}*PAYER*PROVIDER*20240101*1200*1*X*{version}",
            *segments,
            f"SE*{len(segments) + 1}*0001",
            "GE*1*1",
            "IEA*1*000000001",
        ]
    ) + "~\n"


# --------------------------------------------------------------------------------------------- 999


def _999(ak9: str) -> str:
    body = ["AK1*HC*1*005010X222A1", "AK2*837*0001", "IK5*A", ak9]
    return _interchange("FA", "005010X231A1", "ST*999*0001*005010X231A1", body)


@pytest.mark.parametrize(
    ("ak9", "element", "value"),
    [("AK9*A*1*A*1", "AK903", "A"), ("AK9*A*1*1*1.0", "AK904", "1.0"), ("AK9*A*one*1*1", "AK902", "one"),
     ("AK9*A*1*-1*1", "AK903", "-1")],
)
def test_a_999_count_that_is_not_a_whole_number_is_refused_naming_it(ak9: str, element: str,
                                                                     value: str) -> None:
    with pytest.raises(X12ValidationError) as caught:
        read_999("bad.999", text=_999(ak9))
    assert caught.value.field.endswith(element) and "bad.999" in str(caught.value)
    assert f"{value!r} is not a whole number" in str(caught.value)
