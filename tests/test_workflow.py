"""The request state machine: allowed moves pass, every other move is refused by name."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import force_locale

from privacy_center.workflow import (
    CLOCK_RUNNING_WHILE_WAITING,
    CLOCK_SUSPENDED,
    FINAL_STATES,
    STATE_LABELS,
    TRANSITIONS,
    ForbiddenTransition,
    RequestState,
    allowed_targets,
    check_transition,
)

S = RequestState

ALLOWED = [(current, target) for current, targets in TRANSITIONS.items() for target in targets]
FORBIDDEN = [
    (current, target)
    for current in RequestState
    for target in RequestState
    if target not in TRANSITIONS[current]
]


def test_the_expected_states_exist() -> None:
    assert [state.value for state in RequestState] == [
        "received",
        "awaiting_confirmation",
        "awaiting_identity",
        "in_progress",
        "awaiting_requester",
        "extended",
        "completed",
        "partially_completed",
        "refused",
        "withdrawn",
        "lapsed",
    ]
    assert set(TRANSITIONS) == set(RequestState)


def test_transitions_are_the_documented_ones() -> None:
    assert {state.value: sorted(targets) for state, targets in TRANSITIONS.items()} == {
        "received": ["awaiting_confirmation", "awaiting_identity", "in_progress", "withdrawn"],
        "awaiting_confirmation": ["awaiting_identity", "in_progress", "lapsed", "withdrawn"],
        "awaiting_identity": ["in_progress", "lapsed", "refused", "withdrawn"],
        "in_progress": [
            "awaiting_identity",
            "awaiting_requester",
            "completed",
            "extended",
            "partially_completed",
            "refused",
            "withdrawn",
        ],
        "awaiting_requester": ["extended", "in_progress", "lapsed", "withdrawn"],
        "extended": [
            "awaiting_requester",
            "completed",
            "partially_completed",
            "refused",
            "withdrawn",
        ],
        "completed": [],
        "partially_completed": [],
        "refused": [],
        "withdrawn": [],
        "lapsed": [],
    }


@pytest.mark.parametrize(
    ("current", "target"), ALLOWED, ids=[f"{current}->{target}" for current, target in ALLOWED]
)
def test_every_allowed_transition_passes(current: RequestState, target: RequestState) -> None:
    check_transition(current, target)
    check_transition(current.value, target.value)  # stored values work as well
    assert target in allowed_targets(current)


SAMPLE_FORBIDDEN = [
    (S.RECEIVED, S.COMPLETED),  # nobody answers an unconfirmed, unchecked request
    (S.RECEIVED, S.EXTENDED),
    (S.RECEIVED, S.LAPSED),
    (S.AWAITING_CONFIRMATION, S.COMPLETED),
    (S.AWAITING_CONFIRMATION, S.REFUSED),
    (S.AWAITING_IDENTITY, S.COMPLETED),  # no answer before identity is decided
    (S.AWAITING_IDENTITY, S.EXTENDED),
    (S.IN_PROGRESS, S.RECEIVED),
    (S.IN_PROGRESS, S.LAPSED),
    (S.IN_PROGRESS, S.IN_PROGRESS),
    (S.AWAITING_REQUESTER, S.COMPLETED),
    (S.EXTENDED, S.EXTENDED),  # one extension only
    (S.EXTENDED, S.IN_PROGRESS),  # would lose the extension's longer due date
    (S.EXTENDED, S.AWAITING_IDENTITY),
    (S.EXTENDED, S.LAPSED),
]


@pytest.mark.parametrize(
    ("current", "target"),
    SAMPLE_FORBIDDEN,
    ids=[f"{current}->{target}" for current, target in SAMPLE_FORBIDDEN],
)
def test_forbidden_transitions_raise(current: RequestState, target: RequestState) -> None:
    with pytest.raises(ForbiddenTransition) as raised:
        check_transition(current, target)
    assert raised.value.current is current
    assert raised.value.target is target
    assert f"from '{current}' to '{target}'" in str(raised.value)
    assert isinstance(raised.value, ValueError)


LEAVING_FINAL = [(state, target) for state in sorted(FINAL_STATES) for target in RequestState]


@pytest.mark.parametrize(
    ("current", "target"),
    LEAVING_FINAL,
    ids=[f"{current}->{target}" for current, target in LEAVING_FINAL],
)
def test_no_final_state_can_be_left(current: RequestState, target: RequestState) -> None:
    with pytest.raises(ForbiddenTransition, match=f"'{current}' is a final state"):
        check_transition(current, target)


def test_every_forbidden_pair_raises() -> None:
    assert len(ALLOWED) + len(FORBIDDEN) == len(RequestState) ** 2
    for current, target in FORBIDDEN:
        with pytest.raises(ForbiddenTransition):
            check_transition(current, target)


def test_forbidden_message_lists_what_is_allowed() -> None:
    with pytest.raises(ForbiddenTransition) as raised:
        check_transition(S.AWAITING_IDENTITY, S.COMPLETED)
    assert str(raised.value) == (
        "a request cannot go from 'awaiting_identity' to 'completed' "
        "(allowed from 'awaiting_identity': in_progress, lapsed, refused, withdrawn)"
    )


def test_final_and_suspended_states() -> None:
    assert (
        frozenset({S.COMPLETED, S.PARTIALLY_COMPLETED, S.REFUSED, S.WITHDRAWN, S.LAPSED})
        == FINAL_STATES
    )
    # Only the wait for a proof of identity (art. 12(6) GDPR) suspends the clock; no rule
    # suspends it while a clarification is awaited.
    assert frozenset({S.AWAITING_IDENTITY}) == CLOCK_SUSPENDED
    assert frozenset({S.AWAITING_REQUESTER}) == CLOCK_RUNNING_WHILE_WAITING
    assert not CLOCK_SUSPENDED & FINAL_STATES
    for state in FINAL_STATES:
        assert allowed_targets(state) == frozenset()


def test_unknown_state_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown request state 'closed'") as raised:
        check_transition("closed", S.COMPLETED)
    assert not isinstance(raised.value, ForbiddenTransition)
    with pytest.raises(ValueError, match="unknown request state 'done'"):
        allowed_targets("done")


def test_every_state_has_a_label(app: Flask) -> None:
    assert set(STATE_LABELS) == set(RequestState)
    with app.test_request_context(), force_locale("en"):
        texts = {state: str(label) for state, label in STATE_LABELS.items()}
    assert all(text.strip() for text in texts.values())
    assert len(set(texts.values())) == len(texts), "two states share a label"
    assert texts[S.IN_PROGRESS] == "In progress"
    assert texts[S.AWAITING_IDENTITY] == "Awaiting proof of identity"


def test_labels_are_lazy_and_follow_the_locale(app: Flask) -> None:
    # Translated when rendered, in the reader's language, not once at import time.
    label = STATE_LABELS[S.COMPLETED]
    assert not isinstance(label, str)
    with app.test_request_context(), force_locale("fr"):
        assert str(label)
