"""The cascade `auto` walked in the source run when it verified a cheap answer, read back
from the tape: which model answered, who agreed or judged, where it escalated to.

`auto` chose that cascade on learned estimates, which a replay does not re-decide (they
change with every feedback); the recorded call keys say what it was: `<key>/cascade-0`
(the cheap answer), `<key>/cascade-0/agree` or `<key>/cascade-0/judge` (its check),
`<key>/cascade-0/tiebreak` (a third vote on a disagreement) and, when the source
escalated, `<key>/cascade-1`.
"""

from __future__ import annotations

from app.gateway.tape import Tape
from app.routing.catalog import TIER_ORDER, Catalog
from app.routing.judge import JUDGE
from app.routing.policy import Cascade

LEAD = "replay of auto's verify decision (read from the source's calls)"


def recorded_verify(tape: Tape, key: str, catalog: Catalog) -> Cascade | None:
    """The source's verify cascade under `key`, or None when it served `key` directly.
    Where the source never escalated, the strongest tier's first model stands for the
    escalation (auto's default): a replay that now escalates diverges there."""
    stage = tape.recordings.get(f"{key}/cascade-0")
    if stage is None or tape.has(key):
        return None
    later = tape.recordings.get(f"{key}/cascade-1")
    judge = tape.recordings.get(f"{key}/cascade-0/judge")
    agree = tape.recordings.get(f"{key}/cascade-0/agree")
    tiebreak = tape.recordings.get(f"{key}/cascade-0/tiebreak")
    strongest = next(t for t in reversed(TIER_ORDER) if t in catalog.tiers)
    fallback = catalog.chain(strongest)[0].name
    names = [stage.first.model, later.first.model if later else fallback]
    checker = judge or agree
    if checker is None or any(n not in catalog.models for n in (*names, checker.first.model)):
        return None
    answers, escalate = (catalog.model(n) for n in names)
    judged = judge is not None
    return Cascade(
        tiers=(answers.tier, escalate.tier),
        verifier=JUDGE if judged else "agreement",
        models=(answers.name, escalate.name),
        agree_with=None if judged else checker.first.model,
        votes=3 if tiebreak is not None else 2,
        tiebreak_with=tiebreak.first.model if tiebreak is not None else None,
        judge_with=checker.first.model if judged else None,
        lead=LEAD,
    )
