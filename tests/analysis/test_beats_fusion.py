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
