"""The mask states maskwatch knows, and which of them comply.

A classifier may have two classes (with_mask, without_mask) or three (adding mask_weared_incorrect: nose or
chin out), and a reject class besides (not_a_face). Both `without_mask` and `mask_weared_incorrect` are
non-compliant; `unknown` is the state of a face that cannot be judged (see `judge`) and is never counted as
either.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

UNKNOWN = "unknown"
WITH_MASK = "with_mask"
WITHOUT_MASK = "without_mask"
INCORRECT = "mask_weared_incorrect"  # the name the Kaggle / mask-detect annotations use
# A classifier's reject class: what the face detector found is no face to judge (the back of a head, hair, a
# tree trunk, a mask's print). Its state is unknown, and no person is made of it (`maskwatch mine`).
NOT_A_FACE = "not_a_face"
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


@dataclass
class Sightings:
    """One person as a site manager asks about them: the state they were in when last seen, and every state
    they were ever in (so someone who put the mask on at the door still counts as once non-compliant)."""

    last: str = UNKNOWN
    states: set[str] = field(default_factory=set)

    def saw(self, state: str, previous: str | None = None) -> None:
        """An event of this person, in order: `state` after it, `previous_state` before it (if any)."""
        self.states.update(s for s in (state, previous) if s)
        self.last = state

    @property
    def ever_non_compliant(self) -> bool:
        return not self.states.isdisjoint(NON_COMPLIANT)


def people_counts(people: Iterable[Sightings]) -> dict:
    """The people part of every summary (`detect`, `maskwatch events --summary`, the site page):
    people_by_last_state (all four states, zeros too), people_ever_non_compliant (without_mask or
    mask_weared_incorrect at any time), and compliant_at_last_sighting = last state with_mask / judged
    last states (None when no one's last state was judged)."""
    people = list(people)
    by_last = Counter(person.last for person in people)
    return {"people": len(people),
            "people_by_last_state": {state: by_last[state] for state in (*JUDGED, UNKNOWN)},
            "people_ever_non_compliant": sum(person.ever_non_compliant for person in people),
            "compliant_at_last_sighting": compliance(by_last)}


def compliance(counts: dict) -> float | None:
    """with_mask / all judged (with_mask, without_mask, mask_weared_incorrect); None when none was judged."""
    judged = sum(counts.get(state, 0) for state in JUDGED)
    return round(counts.get(WITH_MASK, 0) / judged, 4) if judged else None
