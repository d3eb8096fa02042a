"""Reading a window of a study's ECG for a viewer: signal from the pyramid, beat labels from the analysis.

:func:`signal_window` answers "lead L from ``start_s`` to ``end_s`` drawn ``width_px`` pixels wide" with at
most two values per pixel (the raw samples when the window holds no more samples than pixels), and the
beat labels of the study's current analysis run in that window, technician edits included (an edit makes
a new current run). The answer is sized for HTTP: samples are int16 in the lead's quantum, base64-encoded
(4 bytes of text per pixel pair), and beats are listed one by one only up to :data:`MAX_LISTED_BEATS`;
beyond that (zoomed out over minutes to days) the answer carries counts per class and one character per
pixel naming the most significant class there. Every call is a read of patient data and is audited.

The beats of a run are read through a small memory-mappable index (sample and label per beat) kept beside
the run's files and built at the first read, so a window costs two binary searches, not loading 1.4
million beats.
"""

from __future__ import annotations

import base64
import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import select

from ecgdesk.analysis.findings import BEAT_CLASSES
from ecgdesk.errors import ConflictError
from ecgdesk.records.pyramid import GAP, MAX_WIDTH_PX, Pyramid, SignalWindow
from ecgdesk.records.pyramid import signal_window as pyramid_window
from ecgdesk.store import Store
from ecgdesk.store.models import AnalysisRun, RecordingBlob
from ecgdesk.workflow.analysis import BEATS_NPZ
from ecgdesk.workflow.permissions import audit_read
from ecgdesk.workflow.pyramids import ensure_pyramid, open_blob_recording
from ecgdesk.workflow.studies import get_study

MAX_LISTED_BEATS = 600  # beats listed one by one in a window; more are summarised
BEATS_INDEX = "beats.index"  # a folder beside the run's beats.npz
# Significance of a class in the per-pixel summary: a ventricular beat among 900 normal ones shows as V.
_RANK_ORDER = ("N", "Q", "S", "F", "V")
_NO_BEAT = "."
_BLOCK = 64  # beats per row of the index's class counts

__all__ = ["MAX_LISTED_BEATS", "MAX_WIDTH_PX", "BeatMarks", "SignalWindowResult", "decode_int16",
           "signal_window"]


class BeatMarks(BaseModel):
    """The beat labels of the window, from the study's current analysis run (edits applied)."""

    mode: Literal["none", "all", "summary"] = Field(
        description="'none': the study has no analysis yet; 'all': every beat of the window is listed; "
                    f"'summary': more than {MAX_LISTED_BEATS} beats, so counts and a per-pixel class only")
    run_id: int | None = Field(description="the analysis run the labels come from")
    edited: bool = Field(description="whether that run carries technician edits")
    total: int = Field(description="beats in the window")
    counts: dict[str, int] = Field(description="beats in the window per class (N S V F Q)")
    first_index: int | None = Field(
        default=None,
        description="'all': index in the run of the first listed beat (the next ones follow), the number "
                    "a beat relabel takes")
    offsets: list[int] = Field(default_factory=list,
                               description="'all': each beat's sample, counted from first_sample")
    labels: str = Field(default="", description="'all': each beat's class, one character per beat")
    pixel_classes: str = Field(
        default="",
        description=f"'summary': one character per pixel, the most significant class among its beats "
                    f"(V > F > S > Q > N), '{_NO_BEAT}' where there is none")
    note: str = Field(default="", description="what was left out, in words")


class SignalWindowResult(BaseModel):
    """One window of one lead, ready to draw: samples or per-pixel min/max pairs, and the beats."""

    study_id: int
    lead: str
    leads: list[str] = Field(description="every lead of the recording")
    fs: float = Field(description="sampling rate (Hz)")
    duration_s: float = Field(description="length of the whole recording (s)")
    recording_start: str | None = Field(description="clock time of the first sample, ISO 8601, if known")
    start_s: float = Field(description="the window asked for, from the start of the recording (s)")
    end_s: float
    width_px: int
    mode: Literal["raw", "minmax"] = Field(
        description="'raw': one value per sample; 'minmax': a (min, max) pair per pixel")
    first_sample: int = Field(description="first sample the values cover")
    stop_sample: int = Field(description="one past the last sample the values cover")
    bucket_samples: int = Field(
        description="'minmax': samples per stored bucket the pairs were read from; pixel edges fall on "
                    "bucket edges, so pixel i spans about (stop_sample - first_sample) / n_pixels samples")
    n_pixels: int = Field(description="'minmax': pairs sent; fewer than width_px if the window runs past "
                                      "the end of the recording")
    unit: Literal["mV"] = "mV"
    scale_mv: float = Field(description="mV per integer step of the values")
    encoding: Literal["int16-le-base64"] = Field(
        default="int16-le-base64",
        description="values are little-endian int16, base64-encoded; value x scale_mv = mV")
    gap_value: int = Field(default=GAP, description="the integer meaning 'no signal here' (invalid/lead off)")
    samples: str = Field(default="", description="'raw': one value per sample from first_sample")
    mins: str = Field(default="", description="'minmax': each pixel's minimum")
    maxs: str = Field(default="", description="'minmax': each pixel's maximum")
    beats: BeatMarks


def encode_int16(values: np.ndarray) -> str:
    return base64.b64encode(np.asarray(values, dtype="<i2").tobytes()).decode("ascii")


def decode_int16(text: str) -> np.ndarray:
    """The integers of a base64 field of :class:`SignalWindowResult` (for Python clients and tests)."""
    return np.frombuffer(base64.b64decode(text), dtype="<i2").astype(np.int16)


# ------------------------------------------------------------------------------------------------ beats
def _index_path(store: Store, run: AnalysisRun) -> Path:
    return store.resolve(run.beats_path).parent / BEATS_INDEX


@dataclass(frozen=True)
class BeatIndex:
    """A run's beats as read-only memory maps: samples (ascending, int64), labels (ASCII bytes), and the
    count of each class (:data:`_RANK_ORDER`) before every :data:`_BLOCK`-th beat, so the classes of any
    span of beats are counted from two block rows and at most ``2 x _BLOCK`` labels."""

    samples: np.ndarray
    labels: np.ndarray
    blocks: np.ndarray

    def counts_before(self, bounds: np.ndarray) -> np.ndarray:
        """Beats of each class before each beat index in ``bounds``, shaped ``(len(bounds), classes)``."""
        block = bounds // _BLOCK
        whole = np.asarray(self.blocks[block], dtype=np.int64)
        if self.labels.size == 0:
            return whole
        at = block[:, None] * _BLOCK + np.arange(_BLOCK)
        labels = self.labels[np.minimum(at, self.labels.size - 1)]
        inside = at < bounds[:, None]
        return whole + np.stack([((labels == code) & inside).sum(axis=1) for code in _CODES], axis=1)


def class_blocks(codes: np.ndarray) -> np.ndarray:
    """Row ``j``: the beats of each class among the first ``j x _BLOCK`` labels (ASCII codes)."""
    blocks = np.zeros((codes.size // _BLOCK + 1, len(_CODES)), dtype=np.uint32)
    for column, code in enumerate(_CODES):
        blocks[1:, column] = np.cumsum(codes == code)[_BLOCK - 1 :: _BLOCK]
    return blocks


def beat_index(store: Store, run: AnalysisRun) -> BeatIndex:
    """The run's beat index, built from its ``beats.npz`` at the first read."""
    folder = _index_path(store, run)
    if not (folder / "blocks.npy").is_file():
        with np.load(folder.parent / BEATS_NPZ) as data:
            samples, labels = np.asarray(data["samples"], dtype=np.int64), data["labels"]
        if np.any(np.diff(samples) < 0):
            raise AssertionError(f"the beats of analysis run {run.id} are not in time order")
        codes = np.frombuffer(np.asarray(labels, dtype="S1").tobytes(), dtype="u1")
        blocks = class_blocks(codes)
        tmp = Path(tempfile.mkdtemp(prefix=f".{BEATS_INDEX}.", dir=folder.parent))
        try:
            np.save(tmp / "samples.npy", samples)
            np.save(tmp / "labels.npy", codes)
            np.save(tmp / "blocks.npy", blocks)
            os.rename(tmp, folder)  # atomic: a concurrent reader sees the whole index or none
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (folder / "blocks.npy").is_file():  # not built by a concurrent first read
                raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return _open_index(folder)


@functools.lru_cache(maxsize=32)
def _open_index(folder: Path) -> BeatIndex:
    """Mapped once per process and folder (an index never changes once renamed into place)."""
    names = ("samples", "labels", "blocks")
    return BeatIndex(*(np.load(folder / f"{name}.npy", mmap_mode="r") for name in names))


_CODES = tuple(ord(label) for label in _RANK_ORDER)
_RANK_CHARS = np.frombuffer((_NO_BEAT + "".join(_RANK_ORDER)).encode("ascii"), dtype="u1")


def _beat_marks(index: BeatIndex, run: AnalysisRun, window: SignalWindow, width_px: int) -> BeatMarks:
    samples = index.samples
    first, stop = window.first_sample, window.stop_sample
    i0, i1 = (int(i) for i in np.searchsorted(samples, [first, stop], side="left"))
    around = index.counts_before(np.array([i0, i1]))
    counts = {label: int(n) for label, n in zip(_RANK_ORDER, around[1] - around[0], strict=True)}
    marks = BeatMarks(mode="all", run_id=run.id, edited=run.parent_run_id is not None, total=i1 - i0,
                      counts={label: counts[label] for label in BEAT_CLASSES})
    if i1 - i0 <= MAX_LISTED_BEATS:
        return marks.model_copy(update={
            "first_index": i0, "labels": np.asarray(index.labels[i0:i1]).tobytes().decode("ascii"),
            "offsets": (np.asarray(samples[i0:i1]) - first).tolist()})
    edges = window.edges if window.mode == "minmax" else \
        first + (np.arange(width_px + 1, dtype=np.int64) * (stop - first)) // width_px
    per_pixel = np.diff(index.counts_before(np.searchsorted(samples, edges, side="left")), axis=0)
    top = np.max((per_pixel > 0) * np.arange(1, len(_CODES) + 1), axis=1)  # 0: no beat in the pixel
    note = (f"{i1 - i0} beats in the window (more than {MAX_LISTED_BEATS}): counts per class and the most "
            "significant class per pixel are sent; zoom in to see each beat")
    return marks.model_copy(update={"mode": "summary", "pixel_classes": _RANK_CHARS[top].tobytes().decode(
        "ascii"), "note": note})


# --------------------------------------------------------------------------------------------- use case
@dataclass(frozen=True)
class _Sources:
    blob_dir: str
    main_file: str
    sha256: str
    start_time: str | None
    run: AnalysisRun | None


def _sources(store: Store, study_id: int) -> _Sources:
    with store.transaction() as session:
        study = get_study(session, study_id)
        if study.recording_id is None:
            raise ConflictError("study", f"study {study_id} has no recording yet (status {study.status})")
        row = session.get(RecordingBlob, study.recording_id)
        assert row is not None
        run = session.scalar(
            select(AnalysisRun).where(AnalysisRun.study_id == study_id, AnalysisRun.is_current.is_(True))
        )
        start = row.start_time.isoformat() if row.start_time else None
        return _Sources(row.blob_dir, row.main_file, row.sha256, start, run)


def signal_window(
    store: Store, study_id: int, lead: str, start_s: float, end_s: float, width_px: int, actor: str
) -> SignalWindowResult:
    """Lead ``lead`` of the study's recording over ``[start_s, end_s)`` for ``width_px`` pixels, with the
    beat labels of the current analysis run; audited as ``read:signal``.

    Raises :class:`~ecgdesk.errors.NotFoundError` for an unknown study, :class:`ConflictError` for a study
    without a recording, and :class:`~ecgdesk.errors.InputError` naming the field for an unknown lead (the
    message lists the leads), a window outside the recording or a width outside 1..:data:`MAX_WIDTH_PX`.
    """
    src = _sources(store, study_id)
    pyramid: Pyramid = ensure_pyramid(store, src.blob_dir, src.main_file, src.sha256)
    window = pyramid_window(pyramid, lambda: open_blob_recording(store, src.blob_dir, src.main_file),
                            lead, start_s, end_s, width_px)
    if src.run is None:
        beats = BeatMarks(mode="none", run_id=None, edited=False, total=0, counts={},
                          note="the study has not been analysed yet")
    elif not (store.resolve(src.run.beats_path).parent / BEATS_NPZ).is_file():
        # A resting ECG or stress test run: measurements and statements, no labelled beat list.
        beats = BeatMarks(mode="none", run_id=src.run.id, edited=False, total=0, counts={},
                          note="this analysis (a resting ECG or stress test) labels no beats")
    else:
        beats = _beat_marks(beat_index(store, src.run), src.run, window, width_px)
    header = pyramid.header
    result = SignalWindowResult(
        study_id=study_id, lead=window.lead, leads=list(header.lead_names), fs=header.fs,
        duration_s=pyramid.duration_s, recording_start=src.start_time, start_s=start_s, end_s=end_s,
        width_px=width_px, mode="raw" if window.mode == "raw" else "minmax",
        first_sample=window.first_sample, stop_sample=window.stop_sample, bucket_samples=window.bucket,
        n_pixels=0 if window.mins is None else int(window.mins.size), scale_mv=window.quantum_mv,
        samples=encode_int16(window.values) if window.values is not None else "",
        mins=encode_int16(window.mins) if window.mins is not None else "",
        maxs=encode_int16(window.maxs) if window.maxs is not None else "",
        beats=beats,
    )
    with store.transaction() as session:  # once the window is known valid: a refused one read nothing
        audit_read(session, actor, "signal", "study", study_id,
                   {"lead": window.lead, "start_s": start_s, "end_s": end_s, "width_px": width_px,
                    "mode": result.mode, "run_id": beats.run_id})
    return result
