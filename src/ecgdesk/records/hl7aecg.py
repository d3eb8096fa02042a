"""HL7 v3 annotated ECG (aECG) XML: the FDA's exchange format for resting ECGs, read and written with lxml.

A document holds one or more ``series``; each has a ``sequenceSet`` whose first sequence is the time axis
(``TIME_ABSOLUTE`` or ``TIME_RELATIVE``, with a ``head`` and an ``increment``, i.e. the sampling interval)
and whose other sequences are leads (``MDC_ECG_LEAD_*``), each an ``SLIST_PQ``: physical value =
``origin + scale * digit``. We read the rhythm series (or the first one) into a :class:`Recording`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from lxml import etree

from ecgdesk.errors import RecordingError
from ecgdesk.records._checks import check_in_memory_size, check_regular_file, check_scale, clean_label
from ecgdesk.records.recording import (
    MAX_FS,
    MIN_FS,
    PatientInfo,
    Recording,
    RecordingFormat,
    unit_to_mv_factor,
)
from ecgdesk.utc_offset import split_offset, utc_offset

NS = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_N = {"h": NS}
#: Code system of the ``MDC_ECG_LEAD_*`` codes (ISO/IEEE 11073 MDC) and of the HL7 ActCode time codes.
MDC_SYSTEM = "2.16.840.1.113883.6.24"
ACT_CODE_SYSTEM = "2.16.840.1.113883.5.4"
_MDC_PREFIX = "MDC_ECG_LEAD_"
_LEAD_NAMES = {"AVR": "aVR", "AVL": "aVL", "AVF": "aVF"}


def looks_like_hl7_aecg(head: bytes) -> bool:
    """True when the first bytes of a file are an aECG document (used by format detection)."""
    return b"AnnotatedECG" in head[:4096]


def _lead_name(code: str) -> str:
    short = code[len(_MDC_PREFIX):] if code.startswith(_MDC_PREFIX) else code
    return _LEAD_NAMES.get(short.upper(), short)


def _ts(value: str | None, where: tuple[Path, str, list[str]] | None = None) -> datetime | None:
    """An HL7 TS value (``YYYYMMDDHHMMSS[.fff][+/-ZZZZ]``, possibly shorter) as a datetime: in UTC (aware)
    when it gives its offset from UTC, else naive. An offset that is none (:mod:`ecgdesk.utc_offset`) is not
    applied, said in a warning naming the file and element where ``where`` (path, element, warnings) is
    given."""
    if not value:
        return None
    digits, zone = split_offset(value.strip())
    main, _, fraction = digits.partition(".")
    formats = {14: "%Y%m%d%H%M%S", 12: "%Y%m%d%H%M", 8: "%Y%m%d"}
    fmt = formats.get(len(main))
    if fmt is None:
        return None
    try:
        stamp = datetime.strptime(main, fmt)
    except ValueError:
        return None
    if fraction:
        stamp = stamp.replace(microsecond=int((fraction + "000000")[:6]))
    if len(main) > 8 and zone is not None:
        try:
            offset = utc_offset(zone)
        except ValueError as error:  # any hours were applied: +9900 moved the start four days back
            if where is not None:
                where[2].append(f"{where[0].name}: {where[1]}: {error}; the time is read without it")
            return stamp
        # a device's local time: read as UTC, a strip from east of Greenwich was hours in the future (its
        # monitoring strips flagged for the device's clock, never billed) and one from the west hours early
        return (stamp - offset).replace(tzinfo=UTC)  # an instant, unlike a time without its offset
    return stamp


def _seconds(increment: etree._Element, path: Path) -> float:
    unit = (increment.get("unit") or "s").strip()
    factors = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
    if unit not in factors:
        raise RecordingError(path, "increment.unit", f"time unit must be one of s, ms, us; got {unit!r}")
    try:
        step = float(increment.get("value", "")) * factors[unit]
    except ValueError:
        raise RecordingError(path, "increment.value",
                             f"is not a number: {increment.get('value')!r}") from None
    if not np.isfinite(step) or step <= 0 or not MIN_FS <= 1.0 / step <= MAX_FS:
        raise RecordingError(path, "increment.value",
                             f"sampling interval {step!r} s is not a plausible ECG sampling rate (allowed "
                             f"{MIN_FS:g} Hz to {MAX_FS:g} Hz)")
    return step


def _pq(value: etree._Element, tag: str, path: Path, lead: str) -> float:
    node = value.find(f"h:{tag}", _N)
    if node is None:
        return 0.0 if tag == "origin" else 1.0
    try:
        number = float(node.get("value", ""))
    except ValueError:
        raise RecordingError(path, f"{lead}.{tag}", f"is not a number: {node.get('value')!r}") from None
    if not np.isfinite(number):
        raise RecordingError(path, f"{lead}.{tag}", f"is not a finite number: {node.get('value')!r}")
    return number * unit_to_mv_factor(node.get("unit") or "uV", path)


def read_hl7_aecg(path: str | Path) -> Recording:
    """Read the rhythm series of an HL7 aECG file into memory (resting ECGs are seconds long)."""
    path = Path(path)
    check_in_memory_size(path, check_regular_file(path), "an HL7 aECG document")
    try:
        # No entity is expanded and nothing is fetched: an XML bomb or an external entity stays inert.
        parser = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True, load_dtd=False)
        with open(path, "rb") as handle:  # a file object: lxml never sees an undecodable file name
            tree = etree.parse(handle, parser)
    except OSError as exc:
        raise RecordingError(path, "file", f"cannot be read: {exc}") from None
    except etree.XMLSyntaxError as exc:
        raise RecordingError(path, f"line {exc.lineno}", f"not well-formed XML: {exc.msg}") from None
    root = tree.getroot()
    if etree.QName(root).localname != "AnnotatedECG":
        raise RecordingError(path, "root element",
                             f"expected AnnotatedECG (HL7 aECG), got {etree.QName(root).localname}")
    series = root.findall(".//h:series", _N)
    if not series:
        raise RecordingError(path, "series", "the document has no ECG series")
    chosen = next((s for s in series if (s.find("h:code", _N) is not None
                                         and s.find("h:code", _N).get("code") == "RHYTHM")), series[0])
    step: float | None = None
    start: datetime | None = None
    leads: list[str] = []
    columns: list[np.ndarray] = []
    warnings: list[str] = []
    for sequence in chosen.findall("h:component/h:sequenceSet/h:component/h:sequence", _N):
        code_node = sequence.find("h:code", _N)
        value = sequence.find("h:value", _N)
        code = code_node.get("code", "") if code_node is not None else ""
        if value is None:
            raise RecordingError(path, code or "sequence", "has no value element")
        if code.startswith("TIME_"):
            increment = value.find("h:increment", _N)
            if increment is None:
                raise RecordingError(path, f"{code}.increment", "the time sequence has no increment "
                                     "(only regularly sampled ECGs are read)")
            step = _seconds(increment, path)
            head = value.find("h:head", _N)
            if code == "TIME_RELATIVE":  # the head is an offset (0 s); the series says when it began
                start = _effective_start(chosen, root, path, warnings)
                continue
            start = _ts(head.get("value"), (path, f"{code}.head", warnings)) if head is not None else None
            if start is None and head is not None and head.get("value"):
                warnings.append(f"{code}.head {head.get('value')!r} is not a valid HL7 timestamp "
                                "(YYYYMMDD[HHMM[SS]]); the start is unknown")
            continue
        name = clean_label(_lead_name(code), f"sequence[{len(leads)}].code", f"ch{len(leads) + 1}", warnings)
        digits_node = value.find("h:digits", _N)
        if digits_node is None or not (digits_node.text or "").strip():
            raise RecordingError(path, f"{name}.digits", "the lead has no samples")
        try:
            digits = np.array(digits_node.text.split(), dtype=np.float64)
        except ValueError:
            raise RecordingError(path, f"{name}.digits", "contains a value that is not a number") from None
        if not np.all(np.isfinite(digits)):
            raise RecordingError(path, f"{name}.digits", "contains NaN or infinite values")
        origin, scale = _pq(value, "origin", path, name), _pq(value, "scale", path, name)
        check_scale(path, f"{name}.scale", scale, abs(scale) * 2**15, f"scale {scale:g} mV per digit")
        column = origin + scale * digits
        if not np.all(np.abs(column) <= np.finfo(np.float32).max):  # stored as float32: inf beyond
            raise RecordingError(path, f"{name}.digits", "values beyond any voltage once scaled (they "
                                                         "overflow)")
        leads.append(name)
        columns.append(column)
    if step is None:
        raise RecordingError(path, "sequenceSet", "no TIME_ABSOLUTE or TIME_RELATIVE sequence gives the rate")
    if not columns:
        raise RecordingError(path, "sequenceSet", "no lead sequence found")
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        detail = ", ".join(f"{n}={len(c)}" for n, c in zip(leads, columns, strict=True))
        raise RecordingError(path, "digits", f"leads have different sample counts ({detail})")
    data = np.column_stack(columns).astype(np.float32)
    in_utc = start is not None and start.tzinfo is not None
    return Recording.from_array(
        data, 1.0 / step, leads, format=RecordingFormat.HL7_AECG, path=path,
        start_time=start.replace(tzinfo=None) if start is not None else None, start_in_utc=in_utc,
        patient=_patient(root), device=_device(chosen), record_name=path.stem, warnings=tuple(warnings),
    )


def _patient(root: etree._Element) -> PatientInfo:
    subject = root.find(".//h:trialSubject", _N)
    if subject is None:
        return PatientInfo()
    ident = subject.find("h:id", _N)
    person = subject.find("h:subjectDemographicPerson", _N)
    sex = birth = None
    first = last = None
    if person is not None:
        gender = person.find("h:administrativeGenderCode", _N)
        sex = gender.get("code") if gender is not None else None
        born = person.find("h:birthTime", _N)
        # the date as written: its time and offset are not applied (19560314000000+0100 was 13 March)
        stamp = _ts(split_offset(born.get("value") or "")[0]) if born is not None else None
        birth = stamp.date() if stamp is not None else None
        given, family = person.find("h:name/h:given", _N), person.find("h:name/h:family", _N)
        first = _text(given)
        last = _text(family)
        if first is None and last is None:  # a name given as plain text, without its parts
            last = _text(person.find("h:name", _N))
    return PatientInfo(patient_id=(ident.get("extension") if ident is not None else None), first_name=first,
                       last_name=last, sex=sex, birth_date=birth)


def _text(node: etree._Element | None) -> str | None:
    """The element's own text without the white space around it; None when there is none."""
    text = " ".join((node.text or "").split()) if node is not None else ""
    return text or None


def _effective_start(series: etree._Element, root: etree._Element, path: Path, warnings: list[str]
                     ) -> datetime | None:
    """When a relative time sequence began: the series' effectiveTime, else the whole ECG's."""
    for node in (series.find("h:effectiveTime/h:low", _N), root.find("h:effectiveTime/h:low", _N)):
        stamp = _ts(node.get("value"), (path, "effectiveTime.low", warnings)) if node is not None else None
        if stamp is not None:
            return stamp
    return None


def _device(series: etree._Element) -> str | None:
    return _text(series.find(".//h:manufacturedSeriesDevice/h:manufacturerModelName", _N))


def _el(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, f"{{{NS}}}{tag}")
    for key, value in attrs.items():
        node.set(key, value)
    return node


def write_hl7_aecg(recording: Recording, path: str | Path, resolution_uv: float = 1.0) -> Path:
    """Write a recording as an HL7 aECG rhythm series (samples quantised to ``resolution_uv``)."""
    path = Path(path)
    data = recording.read(0, recording.n_samples).astype(np.float64)
    root = etree.Element(f"{{{NS}}}AnnotatedECG", nsmap={None: NS, "xsi": XSI})
    _el(root, "id", root=str(uuid.uuid4()))
    _el(root, "code", code="93000", codeSystem="2.16.840.1.113883.6.12", codeSystemName="CPT-4")
    start = recording.start_time or datetime(2000, 1, 1)
    stamp = start.strftime("%Y%m%d%H%M%S")
    if start.tzinfo is not None:  # an aware time keeps its instant: UTC, saying so
        stamp = start.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")
    timing = _el(root, "effectiveTime")
    _el(timing, "low", value=stamp)
    patient = recording.patient
    subject = _el(_el(_el(_el(_el(_el(root, "componentOf"), "timepointEvent"), "componentOf"),
                          "subjectAssignment"), "subject"), "trialSubject")
    _el(subject, "id", extension=patient.patient_id or "unknown")
    person = _el(subject, "subjectDemographicPerson")
    if patient.first_name or patient.last_name:
        name = _el(person, "name")
        if patient.first_name:
            _el(name, "given").text = patient.first_name
        if patient.last_name:
            _el(name, "family").text = patient.last_name
    if patient.sex:
        _el(person, "administrativeGenderCode", code=patient.sex, codeSystem="2.16.840.1.113883.5.1")
    if isinstance(patient.birth_date, date):
        _el(person, "birthTime", value=patient.birth_date.strftime("%Y%m%d"))
    series = _el(_el(root, "component"), "series")
    _el(series, "code", code="RHYTHM", codeSystem=ACT_CODE_SYSTEM)
    if recording.device:
        device = _el(_el(_el(series, "author"), "seriesAuthor"), "manufacturedSeriesDevice")
        _el(device, "manufacturerModelName").text = recording.device
    sequence_set = _el(_el(series, "component"), "sequenceSet")
    time_seq = _el(_el(sequence_set, "component"), "sequence")
    _el(time_seq, "code", code="TIME_ABSOLUTE", codeSystem=ACT_CODE_SYSTEM)
    time_value = _el(time_seq, "value")
    time_value.set(f"{{{XSI}}}type", "GLIST_TS")
    # the fraction before the offset (TS: YYYYMMDDHHMMSS.SSSS+ZZZZ): after it, the offset is not read
    _el(time_value, "head", value=f"{stamp[:14]}.000{stamp[14:]}")
    _el(time_value, "increment", value=repr(1.0 / recording.fs), unit="s")
    for index, lead in enumerate(recording.leads):
        sequence = _el(_el(sequence_set, "component"), "sequence")
        short = lead.name.upper()
        _el(sequence, "code", code=f"{_MDC_PREFIX}{short}", codeSystem=MDC_SYSTEM)
        value = _el(sequence, "value")
        value.set(f"{{{XSI}}}type", "SLIST_PQ")
        _el(value, "origin", value="0", unit="uV")
        _el(value, "scale", value=repr(resolution_uv), unit="uV")
        digits = np.round(np.nan_to_num(data[:, index]) * 1000.0 / resolution_uv).astype(np.int64)
        _el(value, "digits").text = " ".join(map(str, digits.tolist()))
    tmp = path.with_name(f".{path.name}.tmp")
    etree.ElementTree(root).write(str(tmp), xml_declaration=True, encoding="UTF-8", pretty_print=True)
    tmp.replace(path)
    return path
