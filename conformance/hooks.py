"""Schemathesis hooks for conformance/run.sh: one custom check, `documented_status`.

It is schemathesis' own `status_code_conformance` (every reply's status must be one the spec
documents for the operation), with exactly three allowances, all for spec gaps rather than
server choices:

1. A request that breaks the schema (schemathesis' negative mode: a missing required body, a
   wrong type, `include_disabled=null`, ...) may be answered 400 even where the spec documents no
   400. The spec documents 400 for some operations only (e.g. not for PUT /account, POST
   /users/auth/_login, DELETE /users/auth/keys, GET /users), yet no documented status fits an
   invalid request there (200 would accept garbage; 404/401 would lie about the cause), and ECE
   itself answers such requests 400 `root.invalid_json_request`. The 400 must still be a proper
   error: the ECE envelope `{"errors":[{"code","message",...}]}` with the code repeated in
   `x-cloud-error-codes` (checked here, because response_schema_conformance only validates
   documented statuses).

2. Merge-patch bodies (PATCH /account, /user, /users/{user_name}) are declared `type: string` in
   the spec, but RFC 7396 patches of an object are objects; the server answers a non-object body
   with a clear 400 on purpose. So the string bodies schemathesis generates as "valid" are, for
   the server, invalid, and get the same allowance as (1). PATCH /user and /users/{user_name}
   document 400 anyway; this matters for PATCH /account.

3. A body with a NUL character (U+0000) in any string or key may be answered 400
   `root.invalid_json_request`: the server refuses NUL anywhere in a body, because PostgreSQL can
   store it neither in `text` nor in `jsonb` (see src/http/json.rs, docs/errors.md). The spec's `string`
   cannot express that restriction. schemathesis keeps generating NUL characters, so every
   operation is still checked for never failing (5xx) on them.

Everything else (any other undocumented status, a 400 to a schema-valid request on an operation
that does not document 400, a 400 without the error envelope) fails as status_code_conformance
would.
"""

from __future__ import annotations

import json

import schemathesis
from schemathesis.specs.openapi.checks import status_code_conformance

MERGE_PATCH_OPERATIONS = {
    "patch-current-account",
    "update-current-user",
    "update-user",
}


def _breaks_schema(case) -> bool:
    meta = case.meta
    if meta is None:
        return False
    if meta.generation.mode.is_negative:
        return True
    return any(component.mode.is_negative for component in meta.components.values())


def _merge_patch_not_object(case) -> bool:
    if case.operation.definition.raw.get("operationId") not in MERGE_PATCH_OPERATIONS:
        return False
    return not isinstance(case.body, dict)


def _contains_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(v) for v in value)
    return False


def _error_codes(response) -> list[str]:
    try:
        return [e.get("code") for e in json.loads(response.content)["errors"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


def _is_error_envelope(response) -> str | None:
    """None if the reply is a well-formed ECE error, else what is wrong with it."""
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if not content_type.startswith("application/json"):
        return f"content type {content_type!r}, expected application/json"
    try:
        body = json.loads(response.content)
    except ValueError:
        return "body is not JSON"
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return "body has no non-empty `errors` array"
    for element in errors:
        if not (
            isinstance(element, dict)
            and isinstance(element.get("code"), str)
            and isinstance(element.get("message"), str)
        ):
            return "an `errors` element lacks a string `code` or `message`"
    header = response.headers.get("x-cloud-error-codes", [""])
    header = header[0] if isinstance(header, list) else header
    if header != ",".join(e["code"] for e in errors):
        return f"x-cloud-error-codes {header!r} does not repeat the error codes"
    return None


@schemathesis.check
def documented_status(ctx, response, case):
    """status_code_conformance, allowing 400 for schema-breaking, non-object merge-patch and NUL input."""
    nul_refused = _contains_nul(case.body) and _error_codes(response) == ["root.invalid_json_request"]
    if response.status_code == 400 and (
        _breaks_schema(case) or _merge_patch_not_object(case) or nul_refused
    ):
        problem = _is_error_envelope(response)
        if problem is not None:
            raise AssertionError(f"400 reply is not an ECE error envelope: {problem}")
        return None
    return status_code_conformance(ctx, response, case)
