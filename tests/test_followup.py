from __future__ import annotations

from rag.text.followup import standalone_query
from rag.types import Turn

FIRST = "How many North Korean troops were moved into Russia's Kursk region?"


def test_a_follow_up_carries_the_previous_names() -> None:
    history = [Turn("user", FIRST), Turn("assistant", "...")]
    query = standalone_query("What about the drones?", history)
    assert query.startswith("What about the drones?")
    assert "North Korean" in query and "Kursk" in query


def test_a_new_question_stands_alone() -> None:
    history = [Turn("user", FIRST)]
    assert standalone_query("Who leads the country of Kim?", []) == "Who leads the country of Kim?"
    assert standalone_query("Where is Pyongyang located?", history) == (
        "Where is Pyongyang located?"
    )


def test_only_elliptical_questions_are_follow_ups() -> None:
    history = [Turn("user", FIRST), Turn("assistant", "...")]
    for follow_up in ("What about the drones?", "And the navy?", "How many did they send?"):
        assert standalone_query(follow_up, history) != follow_up, follow_up
    for complete in (
        "Who won the 2022 World Cup and where was it held?",
        "What does the update-passwd tool do with its Debian defaults?",
        "Is that the same as the Kursk offensive?",
        "What military technology is North Korea mass-producing?",
    ):
        assert standalone_query(complete, history) == complete, complete
