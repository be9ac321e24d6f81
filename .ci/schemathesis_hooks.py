"""Hooks for .ci/schemathesis.sh.

Integers: JSON Schema calls 1.0 an integer, firegrid refuses it for ids and counts on purpose
(issue 10, item 11: a float where an id belongs is a client bug worth a 422, and
tests/hostile_input.rs holds the server to that). Rather than switch the positive-data check off
for every operation with an integer in its body, generated integral floats are sent as the
integers they equal, so the check still covers everything else in those bodies.

Times of things that already happened (found_at, a patrol's started_at and ended_at) must not be
in the future beyond five minutes of clock skew, a rule between a field and the server's clock
that no schema can state (tests/hazards.rs and tests/patrols.rs hold the server to it). Generated
times after now are moved into the past by a map that keeps their order, so the check still
covers the rest of those bodies.
"""
from datetime import datetime, timedelta, timezone

import schemathesis

PAST_ONLY = {"found_at", "started_at", "ended_at"}


def _into_the_past(value):
    try:
        t = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    if t.tzinfo is None:
        return value
    cutoff = datetime.now(timezone.utc) - timedelta(minutes=10)
    if t <= cutoff:
        return value
    # Monotone and bounded: later inputs land later, all within the hour before the cutoff.
    ahead = (t - cutoff).total_seconds()
    moved = cutoff - timedelta(seconds=3600 / (1 + ahead))
    return moved.isoformat().replace("+00:00", "Z")


def _for_the_server(value):
    """Integral floats as ints, past-only times in the past, recursively."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {
            k: _into_the_past(v) if k in PAST_ONLY else _for_the_server(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_for_the_server(v) for v in value]
    return value


@schemathesis.hook
def map_body(ctx, body):
    return _for_the_server(body)
