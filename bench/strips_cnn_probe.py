"""A small 1-D convolutional network on the raw strip, cross-validated on the strip folds.

Not a product model: a probe that answers one question for ``bench/strips_ceiling.py``: does a model
that learns its own features from the waveform (P and f waves, QRS shape, RR pattern) get past the AF F1
of our 40 hand-made features and trees on the same folds? It needs PyTorch, which the product does not::

    .venv/bin/pip install -e ".[probe]"      # torch 2.13.0; on the CPU about 6-8 s an epoch on 2 cores

Input: the strip prepared as for the features (300 Hz, 0.5-40 Hz band-pass), every third sample (100 Hz:
the band-pass already removed what 100 Hz cannot hold), divided by its 99th percentile of ``|x|`` and
clipped to +-8. Network: a strided stem and five residual blocks (16 to 64 channels, each halving the
length: the last layer sees about 10 s), then mean and max over time, dropout, a linear layer; 166k
weights. Training: random crops of :data:`CROP` samples with random gain (0.8-1.2) and polarity
(handheld recorders are held either way round), class-weighted cross-entropy (inverse square root of the
class share) with label smoothing 0.1, AdamW and a one-cycle rate for :data:`EPOCHS` epochs. Held-out
strips are predicted whole (the network is fully convolutional), as the mean of the strip and the
inverted strip.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from torch import nn
from torch.nn import functional as fn

from ecgdesk.analysis.strips.signal import prepare
from ecgdesk.records import open_recording
from train_strips import LABELS

DECIMATE = 3  # 300 Hz -> 100 Hz
CROP = 2000  # 20 s at 100 Hz
EPOCHS = 30
BATCH = 32
WIDTHS = (16, 24, 32, 48, 64, 64)


def _waveform(path: str) -> np.ndarray:
    recording = open_recording(path)
    x = prepare(recording.read(leads=0)[:, 0], recording.fs).clean[::DECIMATE].astype(np.float32)
    scale = float(np.percentile(np.abs(x), 99)) + 1e-3
    return np.clip(x / scale, -8.0, 8.0)


def load_waveforms(paths: Sequence[str], jobs: int = 2) -> list[np.ndarray]:
    """Every strip as the network sees it (see the module docstring)."""
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(_waveform, paths, chunksize=32))


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int = 7) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, kernel, 2, kernel // 2, bias=False)
        self.bn1 = nn.BatchNorm1d(cout)
        self.conv2 = nn.Conv1d(cout, cout, kernel, 1, kernel // 2, bias=False)
        self.bn2 = nn.BatchNorm1d(cout)
        self.skip = nn.Conv1d(cin, cout, 1, 2, bias=False)
        self.bn_skip = nn.BatchNorm1d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bn2(self.conv2(fn.relu(self.bn1(self.conv1(x)))))
        return fn.relu(h + self.bn_skip(self.skip(x)))


class StripNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv1d(1, WIDTHS[0], 11, 2, 5, bias=False)
        self.bn = nn.BatchNorm1d(WIDTHS[0])
        self.blocks = nn.Sequential(*[_Block(a, b) for a, b in itertools.pairwise(WIDTHS)])
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(2 * WIDTHS[-1], len(LABELS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(fn.relu(self.bn(self.stem(x))))
        return self.head(self.drop(torch.cat([h.mean(-1), h.amax(-1)], 1)))


def _crops(waves: Sequence[np.ndarray], idx: np.ndarray, crop: int, rng: np.random.Generator) -> torch.Tensor:
    out = np.zeros((idx.size, 1, crop), np.float32)
    for row, i in enumerate(idx):
        x = waves[i]
        if x.size > crop:
            start = int(rng.integers(0, x.size - crop + 1))
            x = x[start:start + crop]
        out[row, 0, :x.size] = x * rng.uniform(0.8, 1.2) * (1.0 if rng.random() < 0.5 else -1.0)
    return torch.from_numpy(out)


def train(waves: Sequence[np.ndarray], y: np.ndarray, idx: np.ndarray, seed: int,
          crop: int = CROP, epochs: int = EPOCHS) -> StripNet:
    """A network trained on the strips ``idx``; ``y`` holds class indices into :data:`LABELS`."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = StripNet()
    counts = np.bincount(y[idx], minlength=len(LABELS))
    weight = torch.tensor((counts.sum() / np.maximum(counts, 1)) ** 0.5, dtype=torch.float32)
    weight /= weight.mean()
    steps_per_epoch = idx.size // BATCH
    opt = torch.optim.AdamW(net.parameters(), 3e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs * steps_per_epoch)
    for _ in range(epochs):
        net.train()
        order = rng.permutation(idx)
        for b in range(steps_per_epoch):
            batch = order[b * BATCH:(b + 1) * BATCH]
            logits = net(_crops(waves, batch, crop, rng))
            loss = fn.cross_entropy(logits, torch.from_numpy(y[batch]), weight=weight, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return net


def predict(net: StripNet, waves: Sequence[np.ndarray], idx: np.ndarray) -> np.ndarray:
    """Class probabilities (columns in :data:`LABELS` order) of whole strips, mean over both polarities."""
    net.eval()
    proba = np.zeros((idx.size, len(LABELS)))
    with torch.no_grad():
        for row, i in enumerate(idx):
            x = torch.from_numpy(waves[i][None, None])
            proba[row] = ((fn.softmax(net(x), 1) + fn.softmax(net(-x), 1)) / 2).numpy()[0]
    return proba


def cross_validate(waves: Sequence[np.ndarray], labels: np.ndarray,
                   splits: Sequence[tuple[np.ndarray, np.ndarray]], crop: int = CROP,
                   epochs: int = EPOCHS, progress: bool = True) -> np.ndarray:
    """Out-of-fold probabilities (columns in :data:`LABELS` order) over the given folds."""
    torch.set_num_threads(2)
    y = np.array([LABELS.index(v) for v in labels])
    proba = np.zeros((y.size, len(LABELS)))
    for k, (tr, te) in enumerate(splits):
        proba[te] = predict(train(waves, y, tr, seed=k, crop=crop, epochs=epochs), waves, te)
        if progress:
            print(f"  CNN fold {k + 1}/{len(splits)} done", flush=True)
    return proba
