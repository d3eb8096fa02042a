"""HL7 aECG: a hand-written document in the implementation guide's layout, round trips, bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from ecgdesk.errors import RecordingError
from ecgdesk.records.hl7aecg import looks_like_hl7_aecg, read_hl7_aecg, write_hl7_aecg
from ecgdesk.records.recording import PatientInfo, Recording, RecordingFormat

DOC = """<?xml version="1.0" encoding="UTF-8"?>
<AnnotatedECG xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <id root="728989ec-b8ca-4ae8-9ec5-1e6a4a8a3e7b"/>
  <effectiveTime><low value="20240131093000"/></effectiveTime>
  <componentOf><timepointEvent><componentOf><subjectAssignment><subject><trialSubject>
    <id extension="SUBJ-7"/>
    <subjectDemographicPerson><administrativeGenderCode code="F"/><birthTime value="19610412"/>
    </subjectDemographicPerson>
  </trialSubject></subject></subjectAssignment></componentOf></timepointEvent></componentOf>
  <component><series>
    <code code="RHYTHM" codeSystem="2.16.840.1.113883.5.4"/>
    <author><seriesAuthor><manufacturedSeriesDevice>
      <manufacturerModelName>CardioBench 12</manufacturerModelName>
    </manufacturedSeriesDevice></seriesAuthor></author>
    <component><sequenceSet>
      <component><sequence><code code="TIME_ABSOLUTE" codeSystem="2.16.840.1.113883.5.4"/>
        <value xsi:type="GLIST_TS"><head value="20240131093000.000"/><increment value="2" unit="ms"/></value>
      </sequence></component>
      <component><sequence><code code="MDC_ECG_LEAD_I" codeSystem="2.16.840.1.113883.6.24"/>
        <value xsi:type="SLIST_PQ"><origin value="0" unit="uV"/><scale value="5" unit="uV"/>
        <digits>0 10 20 -40 100</digits></value>
      </sequence></component>
      <component><sequence><code code="MDC_ECG_LEAD_AVF" codeSystem="2.16.840.1.113883.6.24"/>
        <value xsi:type="SLIST_PQ"><origin value="100" unit="uV"/><scale value="0.01" unit="mV"/>
        <digits>1 2 3 4 5</digits></value>
      </sequence></component>
    </sequenceSet></component>
  </series></component>
</AnnotatedECG>
"""


def test_reads_implementation_guide_layout(tmp_path: Path):
    path = tmp_path / "ecg.xml"
    path.write_text(DOC, encoding="utf-8")
    assert looks_like_hl7_aecg(path.read_bytes())
    rec = read_hl7_aecg(path)
    assert rec.format is RecordingFormat.HL7_AECG
    assert rec.fs == pytest.approx(500.0)
    assert rec.lead_names == ["I", "aVF"]
    data = rec.read(0, rec.n_samples)
    np.testing.assert_allclose(data[:, 0], [0.0, 0.05, 0.1, -0.2, 0.5], atol=1e-6)
    np.testing.assert_allclose(data[:, 1], [0.11, 0.12, 0.13, 0.14, 0.15], atol=1e-6)
    assert rec.start_time == datetime(2024, 1, 31, 9, 30)
    assert rec.patient.sex == "F" and rec.patient.birth_date == date(1961, 4, 12)
    assert rec.patient.patient_id == "SUBJ-7"
    assert rec.device == "CardioBench 12"


def test_round_trip(tmp_path: Path):
    rng = np.random.default_rng(1)
    data = rng.normal(0, 0.5, (2500, 3)).astype(np.float32)
    patient = PatientInfo(patient_id="P1", sex="M", birth_date=date(1950, 2, 3))
    original = Recording.from_array(data, 250.0, ["I", "II", "V5"], start_time=datetime(2025, 5, 6, 7, 8, 9),
                                    patient=patient)
    path = write_hl7_aecg(original, tmp_path / "out.xml")
    back = read_hl7_aecg(path)
    assert back.fs == pytest.approx(250.0)
    assert back.lead_names == ["I", "II", "V5"]
    np.testing.assert_allclose(back.read(0, back.n_samples), data, atol=0.6e-3)  # 1 uV quantisation
    assert back.start_time == original.start_time
    assert back.patient.birth_date == date(1950, 2, 3)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.replace("<digits>1 2 3 4 5</digits>", "<digits>1 2 3</digits>"), "digits"),
        (lambda d: d.replace("<digits>0 10 20 -40 100</digits>", "<digits>0 10 x 1 2</digits>"), "I.digits"),
        (lambda d: d.replace('value="2" unit="ms"', 'value="0" unit="ms"'), "increment.value"),
        (lambda d: d.replace('value="2" unit="ms"', 'value="2" unit="days"'), "increment.unit"),
        (lambda d: d.replace("<digits>0 10 20 -40 100</digits>", "<digits> </digits>"), "I.digits"),
        (lambda d: d.replace("</AnnotatedECG>", ""), "line"),
        (lambda d: d.replace("AnnotatedECG", "ClinicalDocument"), "root element"),
        (lambda d: d.replace("TIME_ABSOLUTE", "SOMETHING"), "SOMETHING.digits"),
        (lambda d: d.replace('<value xsi:type="GLIST_TS"><head value="20240131093000.000"/>'
                             '<increment value="2" unit="ms"/></value>', '<value xsi:type="GLIST_TS"/>'),
         "TIME_ABSOLUTE.increment"),
    ],
)
def test_bad_documents_name_the_field(tmp_path: Path, edit, field: str):
    path = tmp_path / "bad.xml"
    path.write_text(edit(DOC), encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(RecordingError) as info:
        read_hl7_aecg(path)
    assert info.value.field.startswith(field), (info.value.field, str(info.value))
    assert "bad.xml" in str(info.value)
    assert path.read_bytes() == before


# As other carts write aECG (found by running FDA's and CVRG's public example files through the reader).
_CART_AECG = """<?xml version="1.0" encoding="UTF-8"?>
<AnnotatedECG xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <id root="1.2.3"/>
  <effectiveTime><low value="20040115112004"/></effectiveTime>
  <componentOf><timepointEvent><componentOf><subjectAssignment><subject><trialSubject>
    <id extension="S-1"/>
    <subjectDemographicPerson><name>Clark</name></subjectDemographicPerson>
  </trialSubject></subject></subjectAssignment></componentOf></timepointEvent></componentOf>
  <component><series>
    <code code="RHYTHM" codeSystem="2.16.840.1.113883.5.4"/>
    <author><seriesAuthor><manufacturedSeriesDevice>
      <manufacturerModelName>
        12345
      </manufacturerModelName>
    </manufacturedSeriesDevice></seriesAuthor></author>
    <component><sequenceSet>
      <component><sequence>
        <code code="TIME_RELATIVE" codeSystem="2.16.840.1.113883.5.4"/>
        <value xsi:type="GLIST_PQ"><head value="0.000" unit="s"/><increment value="0.002" unit="s"/></value>
      </sequence></component>
      <component><sequence>
        <code code="MDC_ECG_LEAD_II" codeSystem="2.16.840.1.113883.6.24"/>
        <value xsi:type="SLIST_PQ"><origin value="0" unit="uV"/><scale value="5" unit="uV"/>
          <digits>0 10 20 30 40 50 60 70 80 90</digits></value>
      </sequence></component>
    </sequenceSet></component>
  </series></component>
</AnnotatedECG>
"""


def test_aecg_plain_name_padded_device_and_relative_time(tmp_path: Path) -> None:
    path = tmp_path / "cart.xml"
    path.write_text(_CART_AECG, "utf-8")
    recording = read_hl7_aecg(path)
    assert recording.start_time == datetime(2004, 1, 15, 11, 20, 4)
    assert recording.patient.last_name == "Clark" and recording.device == "12345"
    assert not recording.warnings and recording.fs == 500.0
    assert recording.read(0, 3)[:, 0].tolist() == pytest.approx([0.0, 0.05, 0.1])


def test_a_start_with_its_utc_offset_is_read_as_that_instant(tmp_path: Path) -> None:
    """A recorder in Berlin stamps 10:30+0200 (08:30 UTC). The offset was dropped and 10:30 read as UTC: an
    event-monitor strip arriving at 08:31 UTC was two hours in the future, so ingest flagged it for the
    device's clock and it was never billed; one from New York was five hours early."""
    for stamp, utc in (("20261207103000+0200", datetime(2026, 12, 7, 8, 30)),
                       ("20261207233000.500-0500", datetime(2026, 12, 8, 4, 30, 0, 500_000)),
                       ("20261207103000", datetime(2026, 12, 7, 10, 30)),
                       ("20261207103000+1400", datetime(2026, 12, 6, 20, 30)),
                       ("20261207103000-1200", datetime(2026, 12, 7, 22, 30)),
                       # an offset no place has was applied, any hours (+9900 moved the start four days
                       # back), and one of another form dropped unsaid: said now, naming file and element
                       ("20261207103000+9900", datetime(2026, 12, 7, 10, 30)),
                       ("20261207103000-1300", datetime(2026, 12, 7, 10, 30)),
                       ("20261207103000+0260", datetime(2026, 12, 7, 10, 30)),
                       ("20261207103000+05", datetime(2026, 12, 7, 10, 30))):
        path = tmp_path / "ecg.xml"
        path.write_text(DOC.replace('<head value="20240131093000.000"/>', f'<head value="{stamp}"/>')
                        .replace('<birthTime value="19610412"/>', '<birthTime value="19610412000000+0100"/>'))
        recording = read_hl7_aecg(path)
        assert recording.start_time == utc and recording.start_in_utc == (utc.hour != 10)
        # a birth date is the date written: its offset moved it to the day before
        assert recording.patient.birth_date == date(1961, 4, 12)
        zone = stamp[14:]
        reason = {"+05": " is not of the form +HHMM or -HHMM", "+0260": ": its minutes must be 00-59"}.get(
            zone, " is outside -1200 .. +1400, the offsets in use")
        said = [f"ecg.xml: TIME_ABSOLUTE.head: UTC offset {zone!r}{reason}; the time is read without it"]
        assert [w for w in recording.warnings if "UTC offset" in w] == ([] if utc.hour != 10 or not zone
                                                                        else said)
    aware = datetime(2026, 12, 7, 10, 30, tzinfo=timezone(timedelta(hours=2)))
    written = write_hl7_aecg(Recording.from_array(np.zeros((10, 1), np.float32), 250.0, ["II"],
                                                  start_time=aware), tmp_path / "out.xml")
    assert read_hl7_aecg(written).start_time == aware.astimezone(UTC).replace(tzinfo=None)
