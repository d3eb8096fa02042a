"""Rhythm-strip triage for event and transtelephonic monitoring: N (sinus), A (AF/flutter), O (other), ~.

>>> from ecgdesk.analysis.strips import classify_strip  # doctest: +SKIP
>>> classify_strip(open_recording("A00004.hea")).label  # doctest: +SKIP
<StripLabel.AF: 'A'>
"""

from ecgdesk.analysis.strips.classify import (
    ALGORITHM_VERSION,
    MIN_DURATION_S,
    StripLabel,
    StripResult,
    classify_signal,
    classify_strip,
)
from ecgdesk.analysis.strips.features import FEATURE_NAMES, StripFeatures, strip_features

__all__ = [
    "ALGORITHM_VERSION",
    "FEATURE_NAMES",
    "MIN_DURATION_S",
    "StripFeatures",
    "StripLabel",
    "StripResult",
    "classify_signal",
    "classify_strip",
    "strip_features",
]
