"""``analyze(recording) -> AnalysisResult``: the whole scanning analysis of an ambulatory recording.

One streaming pass reads the chosen lead in ``chunk_s`` blocks with ``overlap_s`` context on each side
(:meth:`Recording.iter_chunks`). Per block: the quality state of each epoch of the block's core, QRS
detection on the whole block, keeping only the peaks inside the core (so a beat on a border is kept
exactly once) and inside analyzable epochs, and the beat features. A block's last epochs that a VF
stretch could grow over (:func:`~ecgdesk.analysis.quality.vf_tail`) wait, with their beats, for the next
block: VF at its start takes them in. Then the beats of the whole recording are classified at once
(templates are global), and the rhythm analysis runs on the beat sequence.

The beat-level steps (QRS detection, features, classification) come from a :class:`BeatEngine`; the
default is ecgdesk's own (``analysis.detection`` and ``analysis.beats``).

Lead choice: ``lead`` by name or index, else the lead whose sampled epochs (up to 8 windows of 60 s spread
over the recording) are most often analyzable, ties broken by the QRS-to-noise slope ratio. The same
sampled windows of the chosen lead give the recording's quality reference
(:func:`quality_reference`): its typical range and noise floor, against which each epoch is judged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any, Protocol

import numpy as np

from ecgdesk.analysis import av_block, rhythm
from ecgdesk.analysis import episodes as ectopy_mod
from ecgdesk.analysis import hrv as hr_mod
from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.diary import DiaryEntry, marker_entries, patient_events, read_diary
from ecgdesk.analysis.findings import (
    BEAT_CLASSES,
    Episode,
    EpisodeType,
    Findings,
    PauseSummary,
    QualityEpochs,
    RecordingInfo,
    Summary,
    TemplateSummary,
)
from ecgdesk.analysis.mains import without_mains
from ecgdesk.analysis.messages import analysis_messages
from ecgdesk.analysis.other_lead import (
    BRIDGED,
    ON_LEAD,
    OTHER_LEAD_EPOCH,
    OtherLeadBeats,
    join_beats,
    read_on_other_leads,
    with_unclassified,
)
from ecgdesk.analysis.quality import (
    ANALYZABLE,
    VENTRICULAR,
    QualityReference,
    analyzable_seconds,
    concat_measures,
    epoch_length,
    epoch_states,
    measure_epochs,
    quality_episodes,
    reference_of,
    runs,
    sample_analyzable,
    states_of,
    states_to_string,
    vf_tail,
    wear_seconds,
)
from ecgdesk.analysis.series import BeatSeries
from ecgdesk.analysis.wenckebach import wenckebach_episodes
from ecgdesk.records.recording import Recording

#: Called with the seconds of signal just processed.
Progress = Callable[[float], object]
#: A beat closer than this (s) to the recording's start or end has its QRS (R -0.1..+0.1 s) cut off: Q.
CUT_OFF_S = 0.1


@dataclass
class StageTimes:
    """Wall seconds spent in each stage (for profiling and ``bench/bench_analysis.py``)."""

    read_s: float = 0.0
    quality_s: float = 0.0
    detect_s: float = 0.0
    features_s: float = 0.0
    classify_s: float = 0.0
    rhythm_s: float = 0.0


class BeatTableLike(Protocol):
    """What the pipeline needs of a beat table (:class:`ecgdesk.analysis.beats.BeatTable`)."""

    @property
    def samples(self) -> np.ndarray: ...

    @property
    def labels(self) -> np.ndarray: ...

    @property
    def templates(self) -> Sequence[Any]: ...


@dataclass(frozen=True)
class BeatEngine:
    """The beat-level steps: ``detect(ecg, fs) -> samples``, ``features(ecg, fs, samples) -> part``,
    ``concat(parts) -> features`` and ``classify(features, samples, fs) -> beat table``."""

    detect: Callable[[np.ndarray, float], np.ndarray]
    features: Callable[[np.ndarray, float, np.ndarray], Any]
    concat: Callable[[list[Any]], Any]
    classify: Callable[[Any, np.ndarray, float], BeatTableLike]


def default_engine() -> BeatEngine:
    """ecgdesk's detector (``analysis.detection``) and beat classifier (``analysis.beats``)."""
    from ecgdesk.analysis.beats import classify_beats, concat_features, extract_beat_features
    from ecgdesk.analysis.detection import detect_qrs

    def detect(ecg: np.ndarray, fs: float) -> np.ndarray:
        return np.asarray(detect_qrs(ecg, fs).samples, dtype=np.int64)

    return BeatEngine(detect, extract_beat_features, concat_features, classify_beats)


@dataclass(frozen=True)
class NoBeats:
    """The beat table of a recording without analyzable signal."""

    samples: np.ndarray
    labels: np.ndarray
    templates: Sequence[Any]
    fs: float


@dataclass(frozen=True)
class AnalysisResult:
    findings: Findings
    beats: BeatTableLike
    times: StageTimes


@dataclass(frozen=True)
class LeadChoice:
    index: int
    reason: str


def _sampled_windows(recording: Recording, leads: int | None = None) -> np.ndarray:
    """Up to 8 windows of 60 s spread over the recording, end to end (samples x leads)."""
    win = int(60 * recording.fs)
    n_win = min(8, max(1, recording.n_samples // max(win, 1)))
    starts = np.linspace(0, max(0, recording.n_samples - win), n_win).astype(np.int64)
    return np.concatenate([recording.read(int(s), int(s) + win, leads) for s in starts])


def quality_reference(recording: Recording, lead: int, config: AnalysisConfig) -> QualityReference:
    """The recording's typical range and noise floor on ``lead``, from the sampled windows (each window
    measured on its own, so no epoch straddles two of them)."""
    fs = recording.fs
    block = _sampled_windows(recording, lead)[:, 0]
    win = min(int(60 * fs), block.size) or 1
    return reference_of(concat_measures([measure_epochs(block[a:a + win], fs, config)
                                         for a in range(0, block.size, win)]))


def choose_lead(recording: Recording, lead: str | int | None, config: AnalysisConfig) -> LeadChoice:
    """The lead to analyse: the one asked for, or the best by a quick quality look (module docstring)."""
    if lead is not None:
        i = recording.lead_index(lead)
        return LeadChoice(i, f"lead {recording.lead_names[i]} as requested")
    if recording.n_leads == 1:
        return LeadChoice(0, "the only lead")
    fs = recording.fs
    block = _sampled_windows(recording)
    scores = []
    for j in range(recording.n_leads):
        x = block[:, j]
        states = epoch_states(x, fs, config)
        ok = float(np.mean(states == ANALYZABLE)) if states.size else 0.0
        d = np.abs(np.diff(x))
        slope = float(np.percentile(d, 99.5) / max(float(np.median(d)), 1e-6)) if d.size else 0.0
        scores.append((ok, slope))
    best = max(range(recording.n_leads), key=lambda j: scores[j])
    ok, slope = scores[best]
    return LeadChoice(
        best,
        f"lead {recording.lead_names[best]} chosen automatically: {100 * ok:.0f}% of sampled "
        f"epochs analyzable, QRS/noise slope ratio {slope:.0f}",
    )


@dataclass(frozen=True)
class _Held:
    """The last ``epochs`` of a chunk that a VF stretch starting in the next chunk would take in, and the
    beats read there (``peaks`` in ``x``, the chunk's samples from ``start``, and their ``origin``) until
    that is known."""

    epochs: int
    x: np.ndarray
    peaks: np.ndarray
    origin: np.ndarray
    start: int


def _add_beats(engine: BeatEngine, x: np.ndarray, fs: float, peaks: np.ndarray, origin: np.ndarray,
               start: int, parts: tuple[list[Any], list[np.ndarray], list[np.ndarray]]) -> None:
    """Append the features (of the beats to classify), recording samples and origins of ``peaks`` (in
    ``x``) to ``parts``."""
    classified = peaks[origin != OTHER_LEAD_EPOCH]
    if classified.size:
        parts[0].append(engine.features(x, fs, classified))
    parts[1].append(peaks + start)
    parts[2].append(origin)


def _stream(
    recording: Recording,
    lead: int,
    config: AnalysisConfig,
    progress: Progress | None,
    times: StageTimes,
    engine: BeatEngine,
    span: tuple[int, int] | None = None,
    reference: QualityReference | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Any]]:
    """(epoch states, beat samples, where each beat was read (:data:`ON_LEAD` ... of
    :mod:`ecgdesk.analysis.other_lead`), feature parts) in one pass.

    The chosen lead gives the quality states, the beats and their features. With ``backup_leads`` and
    more than one lead, the other leads bridge the chosen lead's lost stretches
    (:func:`ecgdesk.analysis.detection.bridge_with_backup`: :data:`BRIDGED`) and read its noise and
    lead-off epochs where they can (:func:`ecgdesk.analysis.other_lead.read_on_other_leads`:
    :data:`OTHER_LEAD_EPOCH`, and the epoch is analyzable); the caller labels both Q (found, but not
    classifiable on the analysed lead). Beats of the second kind get no features: their shape on the
    analysed lead is noise, and the classifier never sees them. ``span`` (first, stop sample)
    streams only that part of the recording (:mod:`ecgdesk.analysis.split`). ``reference`` is the
    recording's quality reference (:func:`quality_reference`, computed here when not given: it depends on
    the whole recording, not on the span, so every segment of a split run judges its epochs alike).
    """
    from ecgdesk.analysis.detection import bridge_with_backup

    fs = recording.fs
    # a recording no longer than one reference window and one chunk (a monitoring strip) is its own
    # reference: its epochs are measured once, with the beats the stream finds, instead of twice
    own_reference = (reference is None and span is None
                     and recording.n_samples <= int(min(60.0, config.chunk_s) * fs))
    if reference is None and not own_reference:
        t = perf_counter()
        reference = quality_reference(recording, lead, config)
        times.quality_s += perf_counter() - t
    L = epoch_length(fs, config)
    state_parts: list[np.ndarray] = []
    sample_parts: list[np.ndarray] = []
    origin_parts: list[np.ndarray] = []
    feature_parts: list[Any] = []
    multi = config.backup_leads and recording.n_leads > 1
    references: dict[int, QualityReference] = {}
    first, stop = span if span is not None else (0, None)
    chunks = recording.iter_chunks(
        config.chunk_s, config.overlap_s, leads=None if multi else lead, start=first, stop=stop
    )
    column = lead if multi else 0
    parts_of_beats = (feature_parts, sample_parts, origin_parts)
    held: _Held | None = None
    while True:
        t0 = perf_counter()
        chunk = next(chunks, None)
        t1 = perf_counter()
        times.read_s += t1 - t0
        if chunk is None:
            break
        c0, c1 = chunk.core_start - chunk.start, chunk.core_stop - chunk.start
        previous = int(state_parts[-1][-1]) if state_parts and state_parts[-1].size else None
        # the beats are found first: the noise test reads the floor between them
        x, core, peaks, own = _block_beats(chunk, column, fs, engine)
        t2 = perf_counter()
        times.detect_s += t2 - t1
        measures = measure_epochs(core, fs, config, own)
        if own_reference or reference is None:
            reference = reference_of(measures)
        states = states_of(measures, core.size, fs, config, previous, reference)
        again = _beats_beside_noise(engine, x, (c0, c1), states, fs, config)
        if again is not None:
            peaks, own = again
        if held is not None:
            # a VF stretch that starts this chunk takes in the last epochs of the one before
            if states.size and states[0] == VENTRICULAR:
                state_parts[-1][state_parts[-1].size - held.epochs:] = VENTRICULAR
            elif held.peaks.size:
                _add_beats(engine, held.x, fs, held.peaks, held.origin, held.start, parts_of_beats)
            held = None
        tail = vf_tail(measures, states, reference, config)
        times.quality_s += perf_counter() - t2
        elsewhere = OtherLeadBeats.none()
        if multi:
            t2 = perf_counter()
            elsewhere = read_on_other_leads(
                states, own, L, fs, [j for j in range(recording.n_leads) if j != column],
                functools.partial(_lead_states, recording, chunk, config=config, engine=engine,
                                  references=references, own_reference=own_reference))
            times.quality_s += perf_counter() - t2
        read = states.copy()
        read[elsewhere.epochs] = ANALYZABLE
        state_parts.append(read)
        t2 = perf_counter()
        if np.any(read == ANALYZABLE):
            source = np.full(peaks.size, column, dtype=np.int16)
            if multi:
                peaks, source = bridge_with_backup(chunk.data, fs, column, peaks, engine.detect)
            inside = (peaks >= c0) & (peaks < c1)
            peaks, source = peaks[inside], source[inside]
            usable = states[np.minimum((peaks - c0) // L, states.size - 1)] == ANALYZABLE
            peaks, source = peaks[usable], source[usable]
            origin = np.where(source == column, ON_LEAD, BRIDGED).astype(np.int8)
            if elsewhere.samples.size:
                peaks, origin = join_beats(peaks, origin, elsewhere.samples + c0, fs)
            t3 = perf_counter()
            times.detect_s += t3 - t2
            # the beats of the last epochs wait: the next chunk may turn those epochs to VF
            wait = (peaks - c0) // L >= states.size - tail
            if np.any(~wait):
                _add_beats(engine, x, fs, peaks[~wait], origin[~wait], chunk.start, parts_of_beats)
            times.features_s += perf_counter() - t3
            peaks, origin = peaks[wait], origin[wait]
        else:
            peaks, origin = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8)
        if tail:
            held = _Held(tail, x, peaks, origin, chunk.start)
        if progress is not None:
            progress((chunk.core_stop - chunk.core_start) / fs)
    if held is not None and held.peaks.size:
        _add_beats(engine, held.x, fs, held.peaks, held.origin, held.start, parts_of_beats)
    states_all = np.concatenate(state_parts) if state_parts else np.zeros(0, dtype=np.uint8)
    samples = np.concatenate(sample_parts) if sample_parts else np.zeros(0, dtype=np.int64)
    origin = np.concatenate(origin_parts) if origin_parts else np.zeros(0, dtype=np.int8)
    return states_all, samples, origin, feature_parts


def _beats_beside_noise(engine: BeatEngine, x: np.ndarray, core: tuple[int, int], states: np.ndarray,
                        fs: float, config: AnalysisConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """The block's beats found again in each stretch between the core's epochs that are not analyzable, each
    stretch read as a recording of its own, when at least
    :data:`~ecgdesk.analysis.detection.FLOOR_BREAKDOWN` of the core is not analyzable and some of it is;
    None otherwise.

    The detector's floor follows the energy of everything it reads: with noise over most of a chunk it rose
    above the clean beats beside the noise (MIT-BIH 100 with muscle noise at -6 dB over 400 of a chunk's
    600 s: 12 of the 258 beats of its clean 200 s found; docs/analysis.md, "Beats beside long noise")."""
    from ecgdesk.analysis.detection import FLOOR_BREAKDOWN

    c0, c1 = core
    bad = ~sample_analyzable(np.arange(c1 - c0), states, fs, config)
    if bad.all() or bad.mean() < FLOOR_BREAKDOWN:
        return None
    blank = np.zeros(x.size, dtype=bool)
    blank[c0:c1] = bad
    found = [np.asarray(engine.detect(x[a:b], fs), dtype=np.int64) + a
             for a, b in runs(~blank) if b - a >= int(fs)]
    peaks = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    return peaks, peaks[(peaks >= c0) & (peaks < c1)] - c0


def _lead_states(
    recording: Recording, chunk: Any, lead: int, *, config: AnalysisConfig, engine: BeatEngine,
    references: dict[int, QualityReference], own_reference: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Epoch states and beats of another ``lead`` on the core of ``chunk`` (judged against that lead's
    own reference, kept in ``references``), for :func:`read_on_other_leads`."""
    fs = recording.fs
    _, core, _, own = _block_beats(chunk, lead, fs, engine)
    measures = measure_epochs(core, fs, config, own)
    if own_reference:
        reference = reference_of(measures)
    else:
        if lead not in references:
            references[lead] = quality_reference(recording, lead, config)
        reference = references[lead]
    return states_of(measures, core.size, fs, config, None, reference), own


def _block_beats(chunk: Any, lead: int, fs: float, engine: BeatEngine
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(the block's samples of ``lead`` with mains hum notched out, which the beats are read on; its core
    as recorded, which the quality gate reads; the beats of the block; those of the core counted from the
    core's start); no detection on a core that is missing or flat throughout."""
    recorded = chunk.data[:, lead]
    c0, c1 = chunk.core_start - chunk.start, chunk.core_stop - chunk.start
    core = recorded[c0:c1]
    x = recorded
    peaks = np.zeros(0, dtype=np.int64)
    if np.isfinite(core).any() and np.ptp(np.nan_to_num(core)) > 0:
        x = without_mains(recorded, fs)
        peaks = np.asarray(engine.detect(x, fs), dtype=np.int64)
    return x, core, peaks, peaks[(peaks >= c0) & (peaks < c1)] - c0


def analyze(
    recording: Recording,
    lead: str | int | None = None,
    diary: Path | None = None,
    config: AnalysisConfig | None = None,
    progress: Progress | None = None,
    engine: BeatEngine | None = None,
) -> AnalysisResult:
    """Run the whole ambulatory analysis of ``recording`` (see the module docstring)."""
    config = config or AnalysisConfig()
    engine = engine or default_engine()
    choice = choose_lead(recording, lead, config)
    entries = diary_entries(recording, diary)
    times = StageTimes()
    states, samples, origin, parts = _stream(recording, choice.index, config, progress, times, engine)
    return classify_and_find(
        recording, choice, states, samples, origin, parts, entries, config, engine, times
    )


def diary_entries(recording: Recording, diary: Path | None) -> list[DiaryEntry]:
    """The recording's event markers plus the diary's rows (a row repeating a marker counted once)."""
    entries: list[DiaryEntry] = marker_entries(recording)
    if diary is not None:
        markers = list(entries)
        # a diary row that repeats a marker (same symptom within 2 s, e.g. a device's own diary export) is
        # the same event
        entries += [
            d
            for d in read_diary(diary, recording.start_time, recording.duration_s)
            if not any(m.symptom == d.symptom and abs(m.time_s - d.time_s) <= 2.0 for m in markers)
        ]
    return entries


def classify_and_find(
    recording: Recording,
    choice: LeadChoice,
    states: np.ndarray,
    samples: np.ndarray,
    origin: np.ndarray,
    parts: list[Any],
    entries: list[DiaryEntry],
    config: AnalysisConfig,
    engine: BeatEngine,
    times: StageTimes,
) -> AnalysisResult:
    """The global steps after streaming: classify every beat at once, then the findings. ``origin`` says
    where each beat was read (:func:`_stream`; a boolean array counts as on the lead / bridged)."""
    t0 = perf_counter()
    table: BeatTableLike
    origin = np.asarray(origin).astype(np.int8)
    classified = origin != OTHER_LEAD_EPOCH
    if classified.any():
        features = engine.concat(parts)
        parts.clear()  # the per-chunk copies go before classification (peak memory)
        table = engine.classify(features, samples[classified], recording.fs)
        del features
        # beats another lead supplied where the analysed lead was lost have no readable shape: Q; nor has a
        # beat whose QRS the recording's start or end cuts off (algorithm 0.5.23)
        read = samples[classified]
        cut_off = (read < CUT_OFF_S * recording.fs) | (read >= recording.n_samples - CUT_OFF_S * recording.fs)
        table.labels[(origin[classified] == BRIDGED) | cut_off] = "Q"
        if not classified.all():
            table = with_unclassified(table, samples[~classified])
    else:
        table = NoBeats(samples, np.full(samples.size, "Q", dtype="<U1"), [], recording.fs)
    t1 = perf_counter()
    findings = findings_from_beats(recording, choice, table, states, entries, config)
    times.classify_s, times.rhythm_s = t1 - t0, perf_counter() - t1
    return AnalysisResult(findings, table, times)


def findings_from_beats(
    recording: Recording,
    choice: LeadChoice,
    table: BeatTableLike,
    states: np.ndarray,
    entries: list[DiaryEntry],
    config: AnalysisConfig,
) -> Findings:
    """Rhythm, ectopy, HR, HRV, hourly table and summary from the classified beats and epoch states."""
    fs, n = recording.fs, recording.n_samples
    series = BeatSeries.build(table.samples, table.labels, fs, n, states, config)
    lead_name = recording.lead_names[choice.index]

    def read(a: int, b: int) -> np.ndarray:
        return recording.read(a, b, choice.index)[:, 0]

    candidates = rhythm.af_episodes(series, config)
    flutter = [e for e in candidates if e.type is EpisodeType.FLUTTER]
    af = rhythm.confirm_af(series, [e for e in candidates if e.type is EpisodeType.AF], read, config)
    atrial = sorted(af + flutter, key=lambda e: e.start_sample)  # no sinus-rhythm logic inside these
    pauses, n_missed = av_block.checked_pauses(series, config, atrial, read)
    blocked = av_block.blocked_p_episodes(series, config, read, atrial)
    grouped = wenckebach_episodes(series, atrial)
    if av_block.conducted_not_ectopic(table.samples, table.labels, blocked, grouped):
        series = BeatSeries.build(table.samples, table.labels, fs, n, states, config)
    ect = ectopy_mod.ectopy(series, config, atrial, read)
    if ect.made_ventricular.size:  # a bigeminal VT's other beats: V in the table's counts too
        table.labels[ect.made_ventricular] = "V"
        series = BeatSeries.build(table.samples, table.labels, fs, n, states, config)
    runs = [e for e in ect.episodes if e.type in (EpisodeType.VT, EpisodeType.SVT)]
    rates = rhythm.rate_episodes(series, config, atrial + runs)
    brady = [e for e in rates if e.type is EpisodeType.BRADY]
    avb = av_block.av_block_episodes(series, config, read, atrial + runs, brady, blocked=blocked)
    # grouped beating where no blocked P wave was seen (it often hides in the T wave)
    avb += [e for e in grouped if not any(rhythm.overlap(a, e) for a in avb + runs)]
    all_eps: list[Episode] = sorted(
        atrial + pauses + ect.episodes + rates + avb + quality_episodes(states, n, fs, config),
        key=lambda e: (e.start_sample, e.type.value),
    )
    ok_s = analyzable_seconds(states, n, fs, config)
    af_s = float(sum(rhythm.episode_valid_seconds(series, e) for e in af))
    counts = {c: int(np.count_nonzero(table.labels == c)) for c in BEAT_CLASSES}
    longest = max(pauses, key=lambda e: e.duration_s, default=None)
    messages = analysis_messages(list(recording.warnings), lead_name, recording.duration_s, states, ok_s,
                                 n_missed, avb, config)
    start = recording.start_time
    summary = Summary(
        recording=RecordingInfo(
            recording.record_name,
            str(recording.path) if recording.path else None,
            recording.format.value,
            fs,
            n,
            recording.duration_s,
            lead_name,
            recording.lead_names,
            choice.reason,
            recording.patient.patient_id,
            recording.device,
        ),
        start_time=start.isoformat() if start else None,
        end_time=recording.end_time.isoformat() if recording.end_time else None,
        wear_time_s=wear_seconds(states, n, fs, config),
        analyzable_time_s=ok_s,
        analyzable_pct=100.0 * ok_s / recording.duration_s if recording.duration_s else 0.0,
        total_beats=int(table.samples.shape[0]),
        beats_by_class=counts,
        heart_rate=hr_mod.heart_rate_summary(series, config, start),
        ectopy=ect.summary,
        af_burden_pct=min(100.0, 100.0 * af_s / ok_s) if ok_s else 0.0,
        af_time_s=af_s,
        pauses=PauseSummary(
            config.pause_s,
            len(pauses),
            config.long_pause_s,
            sum(1 for e in pauses if e.duration_s >= config.long_pause_s),
            longest.duration_s if longest else None,
            longest.start_s if longest else None,
        ),
        hrv=hr_mod.hrv(series, config),
    )
    templates = [
        TemplateSummary(
            int(t.template_id),
            str(t.label),
            int(t.n_beats),
            [round(float(v), 4) for v in np.asarray(t.waveform).ravel()],
            fs,
            int(np.asarray(t.waveform).size // 2),
        )
        for t in table.templates
    ]
    return Findings(
        summary=summary,
        episodes=all_eps,
        hourly=hr_mod.hourly_table(series, config, af, start),
        hr_trend=hr_mod.hr_trend(series, config),
        templates=templates,
        patient_events=patient_events(entries, series, all_eps, config, start),
        quality=QualityEpochs(config.epoch_s, states_to_string(states)),
        messages=messages,
        config=config.as_dict(),
    )
