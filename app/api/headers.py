"""Request headers parsed strictly, declared once and reused by every route that reads them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from app.schemas.storable import StorableStr

# ASCII digits only (`str.isdigit` also accepts "²" and "٣"), at most 9 of them: every value
# fits the `run_events.seq` column, so no query can fail with "integer out of range".
LAST_EVENT_ID_PATTERN = "^[0-9]{1,9}$"

IdempotencyKey = Annotated[
    StorableStr | None,
    Header(
        min_length=1,
        max_length=200,
        description="the same key and body return the run created first (200); "
        "the key with a different body is a 409",
    ),
]


async def last_event_seq(
    last_event_id: Annotated[
        str | None,
        Header(
            pattern=LAST_EVENT_ID_PATTERN,
            description="resume after this event sequence number (SSE reconnection); "
            "anything but 1 to 9 ASCII digits is a 422",
        ),
    ] = None,
) -> int:
    """The sequence number to resume after: 0 (from the start) when the header is absent."""
    return int(last_event_id) if last_event_id is not None else 0


LastEventSeq = Annotated[int, Depends(last_event_seq)]
