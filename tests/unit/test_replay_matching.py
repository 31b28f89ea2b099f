"""The pure parts of replay: tape keys, how a request differs from its recording, and
state normalised so that two executions of the same step compare equal."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage

from app.gateway.tape import request_change
from app.gateway.tape_keys import parse_tape_key, tape_key_of
from app.services.state_diff import cap, diff_states, normalize


def test_tape_keys_parse_step_namespace_path_node_and_index() -> None:
    key = tape_key_of("run-1:s3:plan:plan:plan:2/cascade-1", "run-1")
    assert key == "s3:plan:plan:plan:2/cascade-1"
    position = parse_tape_key(key)
    assert position is not None
    assert (position.step, position.namespace, position.path, position.node) == (
        3,
        "plan",
        "plan",
        "plan",
    )
    assert (position.index, position.suffix) == (2, "/cascade-1")
    assert parse_tape_key("s-1:outer/inner:__pregel_push.0:judge:0") is not None
    # A cascade stage's judge call and second opinion sit in their node's timeline too.
    for extra in ("/judge", "/agree"):
        judged = parse_tape_key(f"s3:plan:plan:plan:2/cascade-0{extra}")
        assert judged is not None and (judged.index, judged.suffix) == (2, f"/cascade-0{extra}")
    assert parse_tape_key("not a key") is None


def test_request_change_names_the_message_and_where_it_differs() -> None:
    recorded = {
        "messages": [{"role": "system", "content": "Plan it."}, {"role": "user", "content": "2+2"}]
    }
    now = {
        "messages": [
            {"role": "system", "content": "Plan it briefly."},
            {"role": "user", "content": "2+2"},
        ]
    }
    summary, diff = request_change(now, recorded)
    assert summary == "message 0 (system) differs from character 7"
    assert diff["recorded"] == "Plan it." and diff["now"] == "Plan it briefly."
    summary, diff = request_change({**recorded, "max_tokens": 10}, {**recorded, "max_tokens": 20})
    assert summary == "`max_tokens` changed" and (diff["recorded"], diff["now"]) == (20, 10)
    summary, _ = request_change({"messages": recorded["messages"][:1]}, recorded)
    assert summary == "message 1 removed (2 -> 1 messages)"


def test_normalize_drops_what_changes_on_every_execution() -> None:
    first = AIMessage(
        content="42", id="lc_run--a", response_metadata={"cost_usd": 0.1, "call_id": "x"}
    )
    again = AIMessage(
        content="42", id="lc_run--b", response_metadata={"cost_usd": 0.0, "call_id": "y"}
    )
    assert normalize({"messages": [HumanMessage("q", id="1"), first]}) == normalize(
        {"messages": [HumanMessage("q", id="2"), again]}
    )
    assert normalize([AIMessage(content="42")]) != normalize([AIMessage(content="43")])


def test_diffs_and_caps_say_what_changed_and_how_long_it_was() -> None:
    changed = diff_states({"a": 1, "b": "x" * 50}, {"a": 1, "b": "y", "c": [1]}, max_chars=10)
    assert changed == {
        "b": {"before": "xxxxxxxxxx... [50 chars]", "after": "y"},
        "c": {"before": "<absent>", "after": [1]},
    }
    assert cap(list(range(105)), 10)[-1] == "... 5 more items"
