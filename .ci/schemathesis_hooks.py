"""Hooks for .ci/schemathesis.sh.

Integers: JSON Schema calls 1.0 an integer, firegrid refuses it for ids and counts on purpose
(issue 10, item 11: a float where an id belongs is a client bug worth a 422, and
tests/hostile_input.rs holds the server to that). Rather than switch the positive-data check off
for every operation with an integer in its body, generated integral floats are sent as the
integers they equal, so the check still covers everything else in those bodies.

Idempotency keys: a key names one request (draft-ietf-httpapi-idempotency-key-header; a key
reused with another body is 422 idempotency_key_reused, held by tests/idempotency.rs). The
fuzzer draws header values from a small pool and resends them with new bodies, so every
generated request gets a fresh key instead, and the positive-data check stays on for every
operation that takes one.
"""
import uuid

import schemathesis


def _integral_floats_to_ints(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_to_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_to_ints(v) for v in value]
    return value


@schemathesis.hook
def map_body(ctx, body):
    return _integral_floats_to_ints(body)


@schemathesis.hook
def map_headers(ctx, headers):
    if headers and "Idempotency-Key" in headers:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return headers


@schemathesis.serializer("application/offset+octet-stream")
def _tus_bytes(ctx, value):
    """A tus PATCH body (api-spec: a binary string) is its bytes as they are."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")
