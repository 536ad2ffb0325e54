"""Every kind of simulator response validated against the official OpenAPI 3.1 document.

The document is ``tests/data/multipart-uploads.openapi.json`` (see ``tests/data/README.md`` for its
source); its component schemas are JSON Schema 2020-12, checked with jsonschema's
``Draft202012Validator`` and refs resolved by a ``referencing.Registry``. Formats are checked too
(``date-time`` as RFC 3339, OpenAPI's ``int64``), by checkers defined here so no optional package is
needed.

Where the simulator knowingly follows the API's prose over the schema, the deviation is listed in
:data:`KNOWN_DEVIATIONS` with its reason. The schema is never loosened: every response is validated
against it as it is, each known deviation must actually occur, and any other deviation fails.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import pytest
import requests
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tlanalytics.simulator import Simulator, generate_uploads

DOC_PATH = Path(__file__).parent / "data" / "multipart-uploads.openapi.json"
DOC_SHA256 = "5bfba7cdd694c05584700c0122498b1ea55752237a94d2d2506001896b440b6f"
DOC = json.loads(DOC_PATH.read_bytes())
URI = "urn:tlanalytics:test:multipart-uploads.openapi.json"
REGISTRY = Registry().with_resource(URI, Resource.from_contents(DOC, default_specification=DRAFT202012))
LIST, STATUS = "/assets/multipart-uploads", "/assets/multipart-uploads/{upload_id}"
NOW = "2026-01-15T12:00:00Z"
N_SESSIONS = 120


class Deviation(NamedTuple):
    """One way a simulator answer differs from the document, and why."""

    operation: str  # operationId, or "METHOD path" when the document has no such operation
    status: int
    where: str  # JSON path of the value (array indexes as [*]), or the request parameter
    keyword: str  # the failing JSON Schema keyword, or undocumented-status/-operation, request-valid-per-schema
    reason: str = ""

    @property
    def key(self):
        return self.operation, self.status, self.where, self.keyword


_429 = ("Rate limits are documented elsewhere, not on either operation; the simulator answers 429 "
        "too_many_requests with Retry-After as the error-code reference describes.")
KNOWN_DEVIATIONS = [
    Deviation("get-status", 200, "$.uploaded_chunks[*].uploaded_at", "type",
              "The schema says string, but the field's description says it is null for pending or failed chunks "
              "(the prose wins: a pending chunk has not been uploaded)."),
    Deviation("list-incomplete-uploads", 429, "$", "undocumented-status", _429),
    Deviation("get-status", 429, "$", "undocumented-status", _429),
    Deviation("list-incomplete-uploads", 400, "page_limit", "request-valid-per-schema",
              "`page_limit` **Max**: `50` is prose only and the schema has no minimum either: the simulator answers "
              "400 parameter_invalid outside 1-50, as the API does past 50."),
    Deviation("get-status", 400, "page_limit", "request-valid-per-schema",
              "As for the listing: the chunk list's `page_limit` is at most 50 in the prose only."),
    Deviation("list-incomplete-uploads", 400, "page", "request-valid-per-schema",
              "Pages are numbered from 1 (the default); the schema has no minimum, so page=0 or -1 is a 400."),
    Deviation("list-incomplete-uploads", 400, "unknown", "request-valid-per-schema",
              "OpenAPI does not forbid extra query parameters; the API's error codes include parameter_unknown."),
    Deviation("GET /assets/nope", 404, "$", "undocumented-operation",
              "A path the document does not have: the simulator answers with the API's error body."),
    Deviation("POST /assets/multipart-uploads", 405, "$", "undocumented-operation",
              "Only GET is documented; other methods get 405 method_not_allowed with an Allow header."),
    Deviation("POST /assets/multipart-uploads/{upload_id}", 405, "$", "undocumented-operation",
              "As above, on the status path."),
]

# --- validation ---------------------------------------------------------------------------------

FORMATS = FormatChecker(formats=())
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)", re.ASCII)


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value):
    """RFC 3339 section 5.6 date-time (a leap second :60 is allowed)."""
    if not isinstance(value, str):
        return True
    m = _RFC3339.fullmatch(value)
    if m is None:
        return False
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    datetime(y, mo, d, h, mi)  # ValueError for Feb 30 and the like
    return s <= 60 and (m.group(8) in "Zz" or (int(m.group(8)[1:3]) <= 23 and int(m.group(8)[4:]) <= 59))


@FORMATS.checks("int64")
def _int64(value):
    return not isinstance(value, int) or -(2**63) <= value < 2**63


@FORMATS.checks("int32")
def _int32(value):
    return not isinstance(value, int) or -(2**31) <= value < 2**31


def _validator(schema):
    return Draft202012Validator(schema, registry=REGISTRY, format_checker=FORMATS)


def _operation(method, path):
    """(operationId or None, operation dict or None, path template) of a request path under /v1.3."""
    for template, ops in DOC["paths"].items():
        pattern = "^" + re.escape(template).replace(r"\{upload_id\}", "[^/]+") + "$"
        if re.match(pattern, path):
            op = ops.get(method.lower())
            return (op["operationId"], op, template) if op else (None, None, template)
    return None, None, path


def _json_path(error):
    return re.sub(r"\[\d+\]", "[*]", error.json_path)


def request_problems(op, params):
    """Schema errors of a request's query parameters (an undeclared parameter is not one)."""
    problems = []
    for p in op.get("parameters", []):
        if p["in"] != "query" or p["name"] not in params:
            continue
        raw = params[p["name"]]
        try:
            value = int(raw) if p["schema"].get("type") == "integer" and re.fullmatch(r"-?\d+", raw) else raw
        except ValueError:
            value = raw
        problems += [f"{p['name']}: {e.message}" for e in _validator(p["schema"]).iter_errors(value)]
    return problems


def response_deviations(method, path, params, status, headers, body, *, varied=None):
    """Deviation keys of one answer from the document (empty when it conforms)."""
    op_id, op, template = _operation(method, path)
    if op is None:
        return [(f"{method} {template}", status, "$", "undocumented-operation")]
    assert headers.get("Content-Type", "").split(";")[0] == "application/json"
    response = op["responses"].get(str(status))
    if response is None:
        return [(op_id, status, "$", "undocumented-status")]
    out = []
    if status == 400 and not request_problems(op, params):
        out.append((op_id, status, varied, "request-valid-per-schema"))
    schema = response["content"]["application/json"]["schema"]
    if "$ref" in schema:  # "#/components/..." is relative to the document, registered under URI
        schema = {**schema, "$ref": URI + schema["$ref"]}
    out += sorted({(op_id, status, _json_path(e), e.validator) for e in _validator(schema).iter_errors(body)})
    return out


# --- the simulator's answers --------------------------------------------------------------------


class Case(NamedTuple):
    label: str
    method: str
    path: str
    params: dict
    key: str | None  # "good", "bad" or None (header left out)
    status: int  # what the simulator must answer
    varied: str | None = None  # the parameter a 400 case changed


def _sessions():
    """A 120-session account in which some sessions have completed, pending and failed chunks."""
    sessions = generate_uploads(N_SESSIONS, seed=5, now=NOW)
    picks = {}
    for s in sessions:
        n, done, failed = s["total_chunks"], s["chunks_completed"], s["chunks_failed"]
        kinds = ("all_completed" if done == n else "failed" if failed and done and done + failed < n
                 else "pending_only" if done + failed == 0 else None)
        if kinds and kinds not in picks and n >= 3:
            picks[kinds] = s["upload_id"]
    assert set(picks) == {"all_completed", "failed", "pending_only"}, picks
    big = max(sessions, key=lambda s: s["total_chunks"] if s["chunks_failed"] and s["chunks_completed"] else 0)
    picks["many_chunks"] = big["upload_id"]
    return sessions, picks


SESSIONS, PICKS = _sessions()


def _cases():
    cases = [Case("defaults", "GET", LIST, {}, "good", 200)]
    for limit in range(1, 51):
        last = math.ceil(N_SESSIONS / limit)
        cases += [Case(f"limit {limit} page 1", "GET", LIST, {"page_limit": str(limit)}, "good", 200),
                  Case(f"limit {limit} last page {last}", "GET", LIST, {"page_limit": str(limit), "page": str(last)},
                       "good", 200),
                  Case(f"limit {limit} past the end", "GET", LIST, {"page_limit": str(limit), "page": str(last + 1)},
                       "good", 200)]
    for name, value in [("page", "0"), ("page", "-1"), ("page", "abc"), ("page_limit", "0"), ("page_limit", "51"),
                        ("page_limit", "1.5"), ("page_limit", ""), ("unknown", "1")]:
        cases.append(Case(f"list 400 {name}={value!r}", "GET", LIST, {name: value}, "good", 400, name))
    cases += [Case("list 403 no key", "GET", LIST, {}, None, 403), Case("list 403 bad key", "GET", LIST, {}, "bad", 403),
              Case("404 unknown route", "GET", "/assets/nope", {}, "good", 404),
              Case("405 list", "POST", LIST, {}, "good", 405)]
    many = next(s for s in SESSIONS if s["upload_id"] == PICKS["many_chunks"])
    for kind, uid in PICKS.items():
        cases.append(Case(f"status {kind}", "GET", f"{LIST}/{uid}", {"page_limit": "50"}, "good", 200))
    for limit in range(1, 51):
        last = math.ceil(many["total_chunks"] / limit)
        for page in sorted({1, last, last + 1}):
            cases.append(Case(f"status limit {limit} page {page}", "GET", f"{LIST}/{many['upload_id']}",
                              {"page_limit": str(limit), "page": str(page)}, "good", 200))
    uid = PICKS["failed"]
    cases += [Case("status 400 page_limit=51", "GET", f"{LIST}/{uid}", {"page_limit": "51"}, "good", 400, "page_limit"),
              Case("status 400 page=x", "GET", f"{LIST}/{uid}", {"page": "x"}, "good", 400, "page"),
              Case("status 403", "GET", f"{LIST}/{uid}", {}, "bad", 403),
              Case("status 404", "GET", f"{LIST}/no-such-session", {}, "good", 404),
              Case("405 status", "POST", f"{LIST}/{uid}", {}, "good", 405)]
    return cases


CASES = _cases()


def _fetch(sim, case):
    headers = {} if case.key is None else {"x-api-key": sim.api_key if case.key == "good" else "tlk_wrong"}
    return requests.request(case.method, sim.base_url + case.path, params=case.params, headers=headers, timeout=10)


def _check(case, r):
    assert r.status_code == case.status, (case.label, r.status_code, r.text[:200])
    return response_deviations(case.method, case.path, case.params, r.status_code, r.headers, r.json(),
                               varied=case.varied)


@pytest.fixture(scope="module")
def answers():
    """(case, deviations) of every case, from one simulator."""
    with Simulator(SESSIONS, now=NOW) as sim:
        return [(case, _check(case, _fetch(sim, case))) for case in CASES]


def _faults():
    """(label, path, fault kind, status): injected 429 and 500 answers on both operations."""
    uid = PICKS["failed"]
    return [("list 429", LIST, "429", 429), ("list 500", LIST, "500", 500),
            ("status 429", f"{LIST}/{uid}", "429-no-retry-after", 429), ("status 500", f"{LIST}/{uid}", "500", 500)]


@pytest.fixture(scope="module")
def fault_answers():
    out = []
    with Simulator(SESSIONS, now=NOW) as sim:
        for label, path, kind, status in _faults():
            sim.inject(kind)
            case = Case(label, "GET", path, {}, "good", status)
            out.append((case, _check(case, _fetch(sim, case))))
        with Simulator([], now=NOW, rate_limit=1) as limited:  # the rate limit's own 429
            case = Case("rate limit, first request", "GET", LIST, {}, "good", 200)
            first = _fetch(limited, case)
            second = _fetch(limited, case)
            out.append((case, _check(case, first)))
            late = case._replace(label="rate limit 429", status=429)
            out.append((late, _check(late, second)))
            assert second.headers["Retry-After"].isdigit()
    return out


KNOWN = {d.key for d in KNOWN_DEVIATIONS}


def _new(deviations):
    return [d for d in deviations if d not in KNOWN]


# --- the tests ----------------------------------------------------------------------------------


def test_the_document_is_the_official_copy_unchanged():
    assert hashlib.sha256(DOC_PATH.read_bytes()).hexdigest() == DOC_SHA256
    assert DOC["openapi"].startswith("3.1") and set(DOC["paths"]) == {LIST, STATUS}
    assert len(DOC["components"]["schemas"]) == 20


def test_the_validator_catches_what_breaks_the_schema():
    """Positive controls: each of these bodies is wrong, and the checker says where."""
    good = {"data": [{"upload_id": "u", "status": "active", "total_size": 1, "chunk_size": 1, "total_chunks": 1,
                      "created_at": "2025-12-01T10:00:00Z"}], "page_info": {"page": 1}}
    ok = response_deviations("GET", LIST, {}, 200, {"Content-Type": "application/json"}, good)
    assert ok == []
    broken = {
        "$.data[*].total_size": ("type", {"total_size": "1"}),
        "$.data[*].status": ("enum", {"status": "paused"}),
        "$.data[*].created_at": ("format", {"created_at": "2025-02-30T10:00:00Z"}),
        "$.data[*].chunk_size": ("format", {"chunk_size": 2**63}),
        "$.data[*]": ("required", {"upload_id": None}),
    }
    for where, (keyword, change) in broken.items():
        item = {k: v for k, v in {**good["data"][0], **change}.items() if v is not None}
        got = response_deviations("GET", LIST, {}, 200, {"Content-Type": "application/json"},
                                  {"data": [item], "page_info": {}})
        assert got == [("list-incomplete-uploads", 200, where, keyword)], (where, got)
    no_info = response_deviations("GET", LIST, {}, 200, {"Content-Type": "application/json"}, {"data": []})
    assert no_info == [("list-incomplete-uploads", 200, "$", "required")]
    chunk = {"uploaded_chunks": [{"index": "1", "status": "completed", "uploaded_at": "2025-12-01T10:00:00Z"}]}
    assert response_deviations("GET", LIST + "/u", {}, 200, {"Content-Type": "application/json"}, chunk) == [
        ("get-status", 200, "$.uploaded_chunks[*].index", "type")]
    assert response_deviations("GET", LIST, {}, 418, {"Content-Type": "application/json"}, {}) == [
        ("list-incomplete-uploads", 418, "$", "undocumented-status")]


def test_every_listing_page_size_conforms(answers):
    pages = [(c, d) for c, d in answers if c.path == LIST and c.status == 200]
    assert len(pages) == 151  # defaults + 50 page sizes x (first, last, past the end)
    assert [(c.label, d) for c, d in pages if d] == []


def test_every_status_page_conforms_except_null_uploaded_at(answers):
    pages = [(c, d) for c, d in answers if c.path.startswith(LIST + "/") and c.status == 200]
    assert len(pages) >= 4 + 50 * 2
    null_at = ("get-status", 200, "$.uploaded_chunks[*].uploaded_at", "type")
    assert [(c.label, _new(d)) for c, d in pages if _new(d)] == []
    with_pending = {c.label for c, d in pages if d == [null_at]}
    assert {"status pending_only", "status failed"} <= with_pending  # pending and failed chunks: null
    assert [c.label for c, d in pages if c.label == "status all_completed" and d] == []  # all strings


def test_error_answers_match_the_documented_errors_or_a_known_deviation(answers, fault_answers):
    errors = [(c, d) for c, d in answers + fault_answers if c.status != 200]
    assert {c.status for c, _ in errors} == {400, 403, 404, 405, 429, 500}
    assert [(c.label, _new(d)) for c, d in errors if _new(d)] == []
    documented = {c.label for c, d in errors if not d}
    assert documented == {"list 400 page='abc'", "list 400 page_limit='1.5'", "list 400 page_limit=''",
                          "status 400 page=x", "list 403 no key", "list 403 bad key", "status 403", "status 404",
                          "list 500", "status 500"}


def test_each_known_deviation_occurs_and_no_other(answers, fault_answers):
    seen = {d for _, ds in answers + fault_answers for d in ds}
    assert seen - KNOWN == set(), "a new deviation from the OpenAPI document"
    assert KNOWN - seen == set(), "a known deviation no longer occurs: remove it from KNOWN_DEVIATIONS"
    assert all(d.reason for d in KNOWN_DEVIATIONS) and len(KNOWN) == len(KNOWN_DEVIATIONS)


def test_an_empty_account_conforms():
    with Simulator([], now=NOW) as sim:
        for params in ({}, {"page": "2"}, {"page_limit": "50"}):
            case = Case("empty", "GET", LIST, params, "good", 200)
            r = _fetch(sim, case)
            assert r.json()["data"] == [] and _check(case, r) == []
