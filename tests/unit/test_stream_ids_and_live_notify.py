"""Stream chunk ids (`<epoch>-<n>`, ordered, resumable) and the NOTIFY payloads that carry
live chunks to other processes (each under Postgres's 8000-byte limit)."""

from __future__ import annotations

import json

from app.db.live_notify import MAX_PAYLOAD_BYTES, PgLiveSender, decode, envelopes
from app.services.stream_ids import START, follows, format_id, id_of, parse_id


def test_ids_read_back_as_written_and_order_by_epoch_then_number() -> None:
    assert parse_id(format_id((3, 41))) == (3, 41)
    assert parse_id("12") == (0, 12)  # an older stream's event sequence number
    assert parse_id("x-1") is None and parse_id("1-") is None and parse_id("-1") is None
    assert parse_id("٣-1") is None  # digits, ASCII only
    assert (1, 900) < (2, 1)


def test_a_chunk_follows_only_the_one_numbered_before_it() -> None:
    assert follows((2, 7), (2, 8))
    assert not follows((2, 7), (2, 9))
    assert not follows((1, 7), (2, 1))  # a new attempt: the table says where the last ended
    assert follows(START, (1, 1))  # nothing came before the first attempt
    assert not follows(START, (2, 1))


def test_a_written_chunk_keeps_its_id_and_an_old_row_its_sequence() -> None:
    assert id_of({"id": "2-5", "event": "messages"}, 40) == (2, 5)
    assert id_of({"event": "messages"}, 40) == (0, 40)


def test_queued_chunks_go_in_payloads_under_the_limit_in_order() -> None:
    text = json.dumps({"id": "1-1", "event": "messages", "data": ["x" * 900]})
    queued = [("run-a", text)] * 20 + [("run-b", text)] * 3 + [("run-a", text)]
    payloads = envelopes("origin", queued)
    assert all(len(p.encode()) < MAX_PAYLOAD_BYTES for p in payloads)
    decoded = [decode(p, "another") for p in payloads]
    segments: list[list[object]] = []  # consecutive payloads of one run, and their chunks
    for run, items in (d for d in decoded if d is not None):
        if segments and segments[-1][0] == run:
            segments[-1][1] += len(items)  # type: ignore[operator]
        else:
            segments.append([run, len(items)])
    assert segments == [["run-a", 20], ["run-b", 3], ["run-a", 1]]
    assert len(payloads) > 3  # 20 chunks of ~1 KB do not fit one notification
    assert all(decode(p, "origin") is None for p in payloads)  # this process's own


def test_a_chunk_too_big_for_a_notification_is_refused() -> None:
    sender = PgLiveSender("postgresql+psycopg://postgres@127.0.0.1/x", "origin")
    assert sender.send("run", {"id": "1-1", "data": "x" * 100})
    assert not sender.send("run", {"id": "1-2", "data": "x" * 8000})
