"""The strip classifier: a gradient-boosted tree ensemble stored as plain arrays and evaluated with numpy.

``bench/train_strips.py`` trains scikit-learn's ``HistGradientBoostingClassifier`` and writes its trees
with :func:`export_trees` to ``strips_model.npz`` beside this module: one row per tree of node arrays
(feature, threshold, where a missing value goes, children, leaf values). Loading needs numpy only, no
pickle and no network; the prediction equals scikit-learn's ``predict_proba`` to rounding, times the
per-class weights given to :func:`export_trees` (renormalised), which the training script uses to favour AF.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ecgdesk.errors import InputError

MODEL_PATH = Path(__file__).with_name("strips_model.npz")
METRICS_PATH = Path(__file__).with_name("strips_model_cv.json")
FORMAT_VERSION = 1
#: Rows evaluated at once by :meth:`TreeEnsemble.predict_proba`: its walk holds about 30 bytes per row and
#: tree, and at 512 rows x 668 trees (the beat model) that stays in the processor's cache: 74,000 rows
#: took 2.2-3.0 s in blocks of 128-1,024 and 4.5 s in blocks of 4,096 (one-off timing, 2-core machine).
PREDICT_BLOCK = 512


@dataclass(frozen=True)
class TreeEnsemble:
    """Boosted trees as padded node arrays shaped ``(n_trees, max_nodes)``."""

    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    baseline: np.ndarray  # (n_classes,)
    tree_class: np.ndarray  # (n_trees,) which class's raw score each tree adds to
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray
    max_depth: int
    version: str = ""
    _walk: tuple[np.ndarray, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The walk runs on flat node arrays (tree t's node j at t * width + j) with both children of node
        # i at 2i (left) and 2i + 1 (right) of one array, and a leaf its own child: a few gathers per
        # level and no leaf mask. For one strip that is over 2x faster than indexing the padded 2-D arrays,
        # where the model was a fifth of the per-strip time.
        n_trees, width = self.feature.shape
        flat = np.arange(n_trees * width).reshape(n_trees, width)
        offset = (np.arange(n_trees) * width)[:, None]
        left = np.where(self.is_leaf, flat, self.left + offset).ravel()
        right = np.where(self.is_leaf, flat, self.right + offset).ravel()
        children = np.column_stack([left, right]).ravel()
        one_hot = (self.tree_class[:, None] == np.arange(len(self.classes))[None, :]).astype(np.float64)
        object.__setattr__(self, "_walk", (
            self.feature.ravel(), self.threshold.ravel(), ~self.missing_left.ravel(), children,
            self.value.ravel(), np.arange(n_trees) * width, one_hot))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities shaped ``(n_samples, n_classes)`` for features shaped ``(n, n_features)``."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != len(self.feature_names):
            raise InputError("features", f"expected {len(self.feature_names)} columns, got {X.shape[1]}")
        # The walk holds one node index per row and tree (8 bytes x rows x trees, several arrays of it):
        # rows go through in blocks, so a 14-day Holter's 100,000s of beats need megabytes, not gigabytes.
        out = np.empty((X.shape[0], len(self.classes)), dtype=np.float64)
        for start in range(0, X.shape[0], PREDICT_BLOCK):
            out[start:start + PREDICT_BLOCK] = self._predict_block(X[start:start + PREDICT_BLOCK])
        return out

    def _predict_block(self, X: np.ndarray) -> np.ndarray:
        feature, threshold, missing_right, children, value, roots, one_hot = self._walk
        n, n_features = X.shape
        row_base = (np.arange(n) * n_features)[:, None]
        flat_x = X.ravel()
        node = np.broadcast_to(roots, (n, roots.size))
        for _ in range(self.max_depth):
            xv = flat_x[row_base + feature[node]]
            # right when above the threshold, or missing where missing values go right
            go_right = np.where(xv != xv, missing_right[node], xv > threshold[node])
            node = children[2 * node + go_right]
        raw = self.baseline[None, :] + value[node] @ one_hot
        raw -= raw.max(axis=1, keepdims=True)
        e = np.exp(raw)
        return np.asarray(e / e.sum(axis=1, keepdims=True))


def export_trees(model: Any, feature_names: tuple[str, ...], path: Path,
                 class_weights: dict[str, float] | None = None, version: str = "") -> None:
    """Write a fitted multiclass ``HistGradientBoostingClassifier`` to ``path`` (npz, no pickle).

    ``version`` names the trained model (kept in the file, :attr:`TreeEnsemble.version`).
    ``class_weights`` multiplies the probability of the named classes before renormalising: with a softmax
    that is ``log(weight)`` added to the class's baseline score, so the file format and the evaluation stay
    as they are. Classes not named keep weight 1.
    """
    weights = class_weights or {}
    for name, weight in weights.items():
        if name not in {str(c) for c in model.classes_} or not weight > 0:
            raise InputError("class_weights", f"unknown class or non-positive weight: {name}={weight}")
    shift = np.asarray([np.log(weights.get(str(c), 1.0)) for c in model.classes_], dtype=np.float64)
    predictors = model._predictors  # list over iterations of lists over classes
    n_classes = len(model.classes_)
    if n_classes < 3:
        raise InputError("model", "export_trees expects a multiclass model (3 or more classes)")
    flat = [(k, tree.nodes) for it in predictors for k, tree in enumerate(it)]
    width = max(nodes.shape[0] for _, nodes in flat)

    def pad(field: str, dtype: Any, fill: Any = 0) -> np.ndarray:
        out = np.full((len(flat), width), fill, dtype=dtype)
        for i, (_, nodes) in enumerate(flat):
            out[i, : nodes.shape[0]] = nodes[field]
        return out

    np.savez_compressed(
        path,
        format_version=np.int64(FORMAT_VERSION),
        model_version=np.asarray(version),
        classes=np.asarray([str(c) for c in model.classes_]),
        feature_names=np.asarray(feature_names),
        baseline=np.asarray(model._baseline_prediction, dtype=np.float64).ravel() + shift,
        tree_class=np.asarray([k for k, _ in flat], dtype=np.int64),
        feature=pad("feature_idx", np.int64),
        threshold=pad("num_threshold", np.float64),
        missing_left=pad("missing_go_to_left", bool),
        left=pad("left", np.int64),
        right=pad("right", np.int64),
        is_leaf=pad("is_leaf", bool, fill=True),
        value=pad("value", np.float64),
        max_depth=np.int64(max(int(nodes["depth"].max()) for _, nodes in flat)),
    )


def load_ensemble(path: Path) -> TreeEnsemble:
    """Read a model written by :func:`export_trees`; a missing or foreign file is a named error."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise InputError("model", "strip model file not found; run bench/train_strips.py", path) from None
    except (OSError, ValueError) as error:
        raise InputError("model", f"not a strip model file ({error})", path) from None
    version = int(arrays.get("format_version", -1))
    if version != FORMAT_VERSION:
        raise InputError("format_version", f"model format {version}, this code reads {FORMAT_VERSION}", path)
    return TreeEnsemble(
        classes=tuple(str(c) for c in arrays["classes"]),
        feature_names=tuple(str(c) for c in arrays["feature_names"]),
        baseline=arrays["baseline"],
        tree_class=arrays["tree_class"],
        feature=arrays["feature"],
        threshold=arrays["threshold"],
        missing_left=arrays["missing_left"],
        left=arrays["left"],
        right=arrays["right"],
        is_leaf=arrays["is_leaf"],
        value=arrays["value"],
        max_depth=int(arrays["max_depth"]),
        version=str(arrays["model_version"]) if "model_version" in arrays else "",
    )


@lru_cache(maxsize=1)
def default_ensemble() -> TreeEnsemble:
    """The committed model, loaded once per process."""
    return load_ensemble(MODEL_PATH)
