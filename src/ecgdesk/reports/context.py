"""What a scanning (Holter / patch) report is made of, and the digest a signature covers.

:class:`ScanningReportContext` carries everything a report shows: the :class:`ReportHeader` (patient,
order, device, times), the analysis :class:`~ecgdesk.analysis.findings.Findings`, optionally the
recording and its labelled beats for the strips, the technician's comments, the physician's
interpretation, the :class:`SignatureBlock` and the addenda.

:func:`report_content_digest` is the SHA-256 of the canonical JSON of that content *without* the signature
block: the same content always gives the same digest (run after run, machine after machine), and any
change to what the physician reads (a finding, a relabelled beat, the interpretation, an addendum) gives
another one. The workflow stores it with the signature and refuses a signature over a changed report.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ecgdesk.analysis.findings import Findings, findings_to_dict
from ecgdesk.errors import InputError
from ecgdesk.names import with_credentials
from ecgdesk.records.recording import Recording

if TYPE_CHECKING:
    from ecgdesk.reports.events import EventStrip

DIGEST_VERSION = "scanning-report-content/1"


class BeatLabels(Protocol):
    """Labelled beats: R-peak sample indices and their AAMI letters (e.g. ``analysis.beats.BeatTable``)."""

    @property
    def samples(self) -> np.ndarray: ...

    @property
    def labels(self) -> np.ndarray: ...


@dataclass(frozen=True)
class SimpleBeats:
    """A minimal :class:`BeatLabels` (e.g. read from ``beats.csv``)."""

    samples: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if np.shape(self.samples) != np.shape(self.labels):
            raise InputError("beats", f"{np.size(self.labels)} labels for {np.size(self.samples)} samples")


@dataclass(frozen=True)
class ReportHeader:
    """The identification block at the top of the report (any unknown field stays empty)."""

    patient_name: str = ""
    patient_id: str = ""
    birth_date: date | None = None
    sex: str = ""
    ordering_physician: str = ""
    ordering_npi: str = ""
    indications: tuple[str, ...] = ()
    device: str = ""
    recording_start: datetime | None = None
    recording_end: datetime | None = None
    wear_time_s: float | None = None
    analyzable_time_s: float | None = None
    facility: str = ""
    study_id: str = ""
    report_version: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.indications, str):
            raise InputError("indications", "give a list of indications, not one string")
        object.__setattr__(self, "indications", tuple(self.indications))
        if self.report_version < 1:
            raise InputError("report_version", f"must be 1 or more, got {self.report_version}")


@dataclass(frozen=True)
class SignatureBlock:
    """The physician's signature: who, with which credentials, when, what it means, over which content."""

    printed_name: str
    credentials: str
    signed_at: datetime
    content_sha256: str
    meaning: str = "Interpreted by"
    #: The report version this signature signed; None: the version of the report that prints it.
    version: int | None = None

    def __post_init__(self) -> None:
        if not self.printed_name.strip():
            raise InputError("signature.printed_name", "the signing physician's name is empty")
        if len(self.content_sha256) != 64 or any(c not in "0123456789abcdef" for c in self.content_sha256):
            raise InputError("signature.content_sha256", "must be a 64-character lowercase hex SHA-256")


@dataclass(frozen=True)
class SignatureLine:
    """One signature as every report prints it (21 CFR 11.50: printed name, date and time, meaning)."""

    who: str  # "Interpreted by: A. Reader, MD": the meaning and the printed name with credentials
    when: str  # "electronically signed 2026-12-01 14:30:05 UTC, report version 1"
    current: bool  # the signature of the version being printed (not one it carries from an earlier one)

    @property
    def text(self) -> str:
        return f"{self.who}   {self.when}"


def signature_lines(
    signature: SignatureBlock | None, earlier: Sequence[SignatureBlock], report_version: int
) -> list[SignatureLine]:
    """Every signature a report version carries, oldest first: those of the earlier versions (the
    interpretation an addendum amends, earlier addenda) and then its own. An unsigned version prints none:
    earlier signatures do not cover its content, and its "not signed" notice must stand alone."""
    if signature is None:
        return []
    out = []
    for sig in [*earlier, signature]:
        name = with_credentials(sig.printed_name, sig.credentials)
        at = sig.signed_at if sig.signed_at.tzinfo is not None else sig.signed_at.replace(tzinfo=UTC)
        version = sig.version if sig.version is not None else report_version
        out.append(SignatureLine(f"{sig.meaning}: {name}",
                                 f"electronically signed {at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, "
                                 f"report version {version}", sig is signature))
    return out


@dataclass(frozen=True)
class Addendum:
    """Text added after signing: never an overwrite of the signed interpretation."""

    text: str
    author: str
    at: datetime


@dataclass
class ScanningReportContext:
    """Everything one scanning report shows. ``recording``/``beats`` are needed for strips only.

    Strips show ``lead`` (default: the lead the analysis used) and, with ``strip_channels`` 2 or 3, the
    recording's next leads under it. ``event_strips`` and ``patient_strips``, when given, are exactly the
    strips printed (a person's selection); ``None`` prints the ones :mod:`ecgdesk.reports.events` proposes.
    """

    header: ReportHeader
    findings: Findings
    recording: Recording | None = None
    beats: BeatLabels | None = None
    technician_comments: str = ""
    interpretation: str = ""
    signature: SignatureBlock | None = None
    addenda: list[Addendum] = field(default_factory=list)
    lead: str | None = None
    strip_channels: int = 1
    event_strips: list[EventStrip] | None = None
    patient_strips: list[EventStrip] | None = None
    #: the signatures of earlier versions this one carries, printed before ``signature`` (never digested)
    earlier_signatures: list[SignatureBlock] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.strip_channels not in (1, 2, 3):
            raise InputError("strip_channels",
                             f"must be 1, 2 or 3 leads per strip, got {self.strip_channels!r}")
        fixed: list[Addendum] = []
        for i, item in enumerate(self.addenda):
            if isinstance(item, Addendum):
                fixed.append(item)
            elif isinstance(item, tuple | list) and len(item) == 3:
                fixed.append(Addendum(str(item[0]), str(item[1]), item[2]))
            else:
                raise InputError(f"addenda[{i}]", "expected an Addendum or a (text, author, datetime) tuple")
        self.addenda = fixed


@dataclass(frozen=True)
class RenderedReport:
    """The files :func:`~ecgdesk.reports.scanning.render_scanning_report` wrote and what they cover."""

    pdf_path: Path
    html_path: Path
    content_sha256: str
    page_count: int


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _beats_digest(beats: BeatLabels | None) -> str | None:
    if beats is None:
        return None
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(np.asarray(beats.samples, dtype="<i8")).tobytes())
    h.update("".join(np.asarray(beats.labels).astype(str).tolist()).encode("ascii", "replace"))
    return h.hexdigest()


def _strips(strips: list[EventStrip]) -> list[dict[str, Any]]:
    return [{"title": s.title, "rhythm": s.rhythm, "detail": s.detail, "start_s": round(s.start_s, 3),
             "duration_s": round(s.duration_s, 3)} for s in strips]


def canonical_content(ctx: ScanningReportContext) -> dict[str, Any]:
    """The content a signature covers, as plain JSON data (the signature block itself excluded)."""
    h = ctx.header
    rec = ctx.recording
    chosen: dict[str, Any] = {}  # only with a selection: reports without one keep their digests
    if ctx.event_strips is not None or ctx.patient_strips is not None:
        chosen["strips"] = {"event": _strips(ctx.event_strips or []),
                            "patient": _strips(ctx.patient_strips or [])}
    return {
        **chosen,
        "digest_version": DIGEST_VERSION,
        "header": {
            "patient_name": h.patient_name, "patient_id": h.patient_id, "birth_date": _iso(h.birth_date),
            "sex": h.sex, "ordering_physician": h.ordering_physician, "ordering_npi": h.ordering_npi,
            "indications": list(h.indications), "device": h.device,
            "recording_start": _iso(h.recording_start), "recording_end": _iso(h.recording_end),
            "wear_time_s": h.wear_time_s, "analyzable_time_s": h.analyzable_time_s,
            "facility": h.facility, "study_id": h.study_id, "report_version": h.report_version,
        },
        "findings": findings_to_dict(ctx.findings),
        # What the strips are drawn from, not where the file lies (its name or path may differ per open).
        "recording": None if rec is None else {
            "fs": rec.fs, "n_samples": rec.n_samples, "leads": rec.lead_names,
            "start_time": _iso(rec.start_time),
        },
        "beats_sha256": _beats_digest(ctx.beats),
        "lead": ctx.lead,
        "strip_channels": ctx.strip_channels,
        "technician_comments": ctx.technician_comments.strip(),
        "interpretation": ctx.interpretation.strip(),
        "addenda": [{"text": a.text.strip(), "author": a.author, "at": _iso(a.at)} for a in ctx.addenda],
    }


def report_content_digest(ctx: ScanningReportContext) -> str:
    """SHA-256 (hex) of :func:`canonical_content`: stable for the same content, excludes the signature."""
    text = json.dumps(canonical_content(ctx), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()
