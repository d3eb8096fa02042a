"""Fusion (F) beats: on-time beats whose QRS blends the dominant and a ventricular template."""

from __future__ import annotations

import numpy as np

from ecgdesk.analysis.beats import classify_beats, extract_beat_features

FS = 250.0


def _beat(t: np.ndarray, at: float, kind: str, mix: float = 0.5) -> np.ndarray:
    normal = np.exp(-0.5 * ((t - at) / 0.012) ** 2) + 0.25 * np.exp(-0.5 * ((t - at - 0.28) / 0.05) ** 2)
    ventricular = (-1.4 * np.exp(-0.5 * ((t - at - 0.01) / 0.04) ** 2)
                   + 0.5 * np.exp(-0.5 * ((t - at - 0.3) / 0.07) ** 2))
    if kind == "N":
        return normal
    if kind == "V":
        return ventricular
    return mix * normal + (1.0 - mix) * ventricular


def _record(plan: list[tuple[float, str]], seconds: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(seconds * FS)) / FS
    x = np.zeros_like(t)
    for at, kind in plan:
        x += _beat(t, at, kind)
    x += np.random.default_rng(1).normal(0, 0.01, x.size)
    return x, np.asarray([int(round(at * FS)) for at, _ in plan])


def _plan(with_fusion: bool) -> tuple[list[tuple[float, str]], float]:
    plan, t, i = [], 1.0, 0
    while t < 290.0:
        i += 1
        if i % 10 == 0:  # a PVC, early, then a compensatory pause
            plan.append((t - 0.3, "V"))
            t += 0.8
        elif with_fusion and i % 10 == 5:  # a late PVC meeting the sinus beat: on time, blended
            plan.append((t, "F"))
            t += 0.8
        else:
            plan.append((t, "N"))
            t += 0.8
    return plan, t + 1.0


def test_blended_on_time_beats_are_fusion():
    plan, seconds = _plan(with_fusion=True)
    x, samples = _record(plan, seconds)
    table = classify_beats(extract_beat_features(x, FS, samples), samples, FS)
    truth = np.array([k for _, k in plan])
    assert np.mean(table.labels[truth == "F"] == "F") >= 0.9
    assert np.all(table.labels[truth == "V"] == "V")
    assert np.mean(table.labels[truth == "N"] == "N") >= 0.99


def test_no_fusion_without_ventricular_beats_or_blends():
    plan, seconds = _plan(with_fusion=False)
    x, samples = _record(plan, seconds)
    table = classify_beats(extract_beat_features(x, FS, samples), samples, FS)
    assert "F" not in set(table.labels)
    normal_shape = [(at, "N") for at, _ in plan]  # the early beats now are supraventricular
    x, samples = _record(normal_shape, seconds)
    table = classify_beats(extract_beat_features(x, FS, samples), samples, FS)
    assert set(table.labels) == {"N", "S"}


def test_a_few_odd_beats_do_not_make_the_normal_beats_fusion():
    """Three early wide beats (artefact or a rare PVC) and normal beats every fourth of which is a little
    different in shape: a blend fitted to three beats must not explain dozens of normal beats. Fusion
    beats are the few beats of a ventricular focus that meet a sinus beat, never more than its pure ones."""
    plan, t, i = [], 1.0, 0
    while t < 290.0:
        i += 1
        plan.append((t - 0.3, "V") if i in (50, 150, 250) else (t, "variant" if i % 4 == 0 else "N"))
        t += 0.8
    t_axis = np.arange(int((t + 1.0) * FS)) / FS
    x = np.random.default_rng(2).normal(0, 0.01, t_axis.size)
    for at, kind in plan:
        mix = 0.7 if kind == "variant" else 1.0
        x += _beat(t_axis, at, "V") if kind == "V" else _beat(t_axis, at, "F", mix=mix)
    samples = np.asarray([int(round(at * FS)) for at, _ in plan])
    table = classify_beats(extract_beat_features(x, FS, samples), samples, FS)
    kinds = np.array([k for _, k in plan])
    assert np.sum(table.labels[kinds != "V"] == "F") == 0
