"""The mask states maskwatch knows, and which of them comply.

A classifier may have two classes (with_mask, without_mask) or three (adding mask_weared_incorrect: nose or
chin out). Both `without_mask` and `mask_weared_incorrect` are non-compliant; `unknown` is the state of a
face that cannot be judged (see `judge`) and is never counted as either.
"""

from __future__ import annotations

from collections.abc import Iterable

UNKNOWN = "unknown"
WITH_MASK = "with_mask"
WITHOUT_MASK = "without_mask"
INCORRECT = "mask_weared_incorrect"  # the name the Kaggle / mask-detect annotations use
JUDGED = (WITH_MASK, WITHOUT_MASK, INCORRECT)
STATES = (UNKNOWN, *JUDGED)
NON_COMPLIANT = (WITHOUT_MASK, INCORRECT)
NON_COMPLIANT_ALIAS = "non_compliant"  # in alert rules: either of NON_COMPLIANT


def verdict(states: Iterable[str | None]) -> str:
    """One word for a person from every state their events named: the worst they were seen in, without_mask
    before mask_weared_incorrect before with_mask; unknown if never judged (the run summary, `maskwatch
    events --summary` and the metrics agree)."""
    seen = set(states)
    return next((state for state in (WITHOUT_MASK, INCORRECT, WITH_MASK) if state in seen), UNKNOWN)


def compliance(counts: dict) -> float | None:
    """with_mask / all judged (with_mask, without_mask, mask_weared_incorrect); None when none was judged."""
    judged = sum(counts.get(state, 0) for state in JUDGED)
    return round(counts.get(WITH_MASK, 0) / judged, 4) if judged else None
