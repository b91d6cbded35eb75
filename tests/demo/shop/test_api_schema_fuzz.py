"""Schemathesis against the API's own OpenAPI schema, in-process through the ASGI application.

Every operation gets a bounded, seeded run: never a 5xx, every error under /api/ is JSON with
string "error" and "detail", and answers match the schema wherever it documents them. The hostile
requests the reliability issue lists (bodies that are not JSON, wrong content types, bodies over
the size limit, bad quantities, ids out of range) are also sent one by one, with their answers.

Requests go through config.asgi.application, so RequestBodyLimit and every middleware are in the
path. Views then run in asgiref's worker thread on a connection of its own, hence
`transaction=True`; `reset_sequences` makes the `item` fixture item 1, an id the generators try.
"""

import orjson
import pytest
import schemathesis
from channels.testing import HttpCommunicator
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from config.asgi import application
from tests.conftest import access_token

pytestmark = pytest.mark.django_db(transaction=True, reset_sequences=True)

# The error statuses README's API table promises, whether or not the schema documents them yet.
API_ERRORS = {400, 401, 403, 404, 405, 409, 413, 415}

CONFIG = SchemathesisConfig.from_dict(
    {
        # 50 examples per operation keeps the module under a minute on 2 cores; change the seed
        # (or raise max-examples) locally to explore further.
        "seed": 20240611,
        "generation": {"max-examples": 50, "deterministic": True, "database": "none"},
        "checks": {
            # The schema documents only successes; `status_is_documented_or_an_api_error` below
            # holds the other statuses to README's list instead.
            "status_code_conformance": {"enabled": False},
            "negative_data_rejection": {"expected-statuses": sorted(map(str, API_ERRORS))},
        },
    }
)

# Schema-valid requests the server rightly refuses, or invalid ones it rightly takes, because the
# schema cannot say (or does not yet say) what the code enforces. Only these checks are relaxed.
SCHEMA_GAPS = {
    # Password strength (Django's validators) is not in the schema; its `^[\w.@+-]+$` means ASCII
    # \w to JSON Schema but Unicode \w to Python, so "Õ" is "invalid" and accepted.
    "auth_register_create": [positive_data_acceptance, negative_data_rejection],
    # simplejwt's fields refuse "" and NUL characters; the schema says neither.
    "auth_token_create": [positive_data_acceptance],
    "auth_token_refresh_create": [positive_data_acceptance],
    # DRF's pagination reads ?page= (empty) and ?page=last as page 1 and the last page.
    "items_list": [negative_data_rejection],
    "orders_list": [negative_data_rejection],
    "holds_list": [negative_data_rejection],
    "alerts_list": [negative_data_rejection],
}

# Django's test environment allows the "testserver" host only once tests run; this is collection.
with override_settings(ALLOWED_HOSTS=["testserver"]):
    schema = schemathesis.openapi.from_asgi("/api/schema/", application, config=CONFIG)


def json_error_problem(status: int, content_type: str | None, body: bytes) -> str | None:
    """What is wrong with an error answer, or None when it is the API's JSON error body."""
    if status < 400:
        return None
    if content_type != "application/json":
        return f"{status} with Content-Type {content_type!r}: {body[:200]!r}"
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return f"{status} whose body is not JSON: {body[:200]!r}"
    if not (
        isinstance(data, dict)
        and isinstance(data.get("error"), str)
        and isinstance(data.get("detail"), str)
    ):
        return f"{status} without string 'error' and 'detail': {data!r}"
    return None


def error_is_json(ctx, response, case):
    content_type = response.headers.get("content-type", [None])[0]
    problem = json_error_problem(response.status_code, content_type, response.content)
    assert problem is None, problem


def status_is_documented_or_an_api_error(ctx, response, case):
    if case.method.upper() != case.operation.method.upper():
        return  # an undeclared-method probe: `unsupported_method` judges those
    documented = {int(code) for code in case.operation.responses.status_codes if code.isdigit()}
    assert response.status_code in documented | API_ERRORS, (
        f"{response.status_code} is neither documented ({sorted(documented)}) "
        f"nor one of the API's errors ({sorted(API_ERRORS)})"
    )


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Every token and register example hashes a password (an unknown username too, so that
    timing tells nothing): with the shop's PBKDF2, a third of a second each on 2 cores. What
    is fuzzed is the API's answers, not the hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The examples of one operation share `staff` and `item`, and what earlier examples did to them.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def fuzz(case, staff, item):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {access_token(staff)}"},
        additional_checks=[error_is_json, status_is_documented_or_an_api_error],
        excluded_checks=SCHEMA_GAPS.get(case.operation.definition.raw["operationId"], []),
    )


FUZZED = set()


def fuzzed(operation_id: str):
    FUZZED.add(operation_id)
    # One test function per operation: with pytest 9.2, schemathesis 4.32 gives all operations
    # of one parametrized function the same node id, and pytest then tears the database down
    # between them.
    return schema.include(operation_id=operation_id).parametrize()(fuzz)


test_register_is_fuzzed = fuzzed("auth_register_create")
test_token_is_fuzzed = fuzzed("auth_token_create")
test_token_refresh_is_fuzzed = fuzzed("auth_token_refresh_create")
test_item_list_is_fuzzed = fuzzed("items_list")
test_item_detail_is_fuzzed = fuzzed("items_retrieve")
test_purchase_is_fuzzed = fuzzed("items_purchase_create")
test_restock_is_fuzzed = fuzzed("items_restock_create")
test_orders_is_fuzzed = fuzzed("orders_list")
test_hold_is_fuzzed = fuzzed("items_holds_create")
test_holds_list_is_fuzzed = fuzzed("holds_list")
test_hold_release_is_fuzzed = fuzzed("holds_destroy")
test_alert_is_fuzzed = fuzzed("items_alerts_create")
test_alerts_list_is_fuzzed = fuzzed("alerts_list")
test_alert_cancel_is_fuzzed = fuzzed("alerts_destroy")


def test_every_operation_in_the_schema_is_fuzzed():
    operations = {
        result.ok().definition.raw["operationId"] for result in schema.get_all_operations()
    }
    assert operations == FUZZED


# The reliability issue's list, sent as raw bytes: (request, content type, body, status, error).
# "{item}" is the `item` fixture's id.
PURCHASE = "POST /api/items/{item}/purchase"
JSON = "application/json"


def quantity(raw: str) -> bytes:
    return b'{"quantity": ' + raw.encode() + b"}"


HOSTILE = {
    # Bodies that are not JSON, or not a JSON object.
    "not_json": (PURCHASE, JSON, b"{quantity: 1", 400, "malformed_json"),
    "not_utf8": (PURCHASE, JSON, b"\xff\xfe{}", 400, "malformed_json"),
    "json_null": (PURCHASE, JSON, b"null", 400, "invalid_request"),
    "json_list": (PURCHASE, JSON, b"[1]", 400, "invalid_request"),
    "integer_too_long_to_parse": (
        PURCHASE,
        JSON,
        quantity("1" + "0" * 5000),
        400,
        "malformed_json",
    ),
    # 20 KB: under the size limit, past the JSON decoder's recursion limit.
    "nested_too_deep": (
        PURCHASE,
        JSON,
        quantity("[" * 10_000 + "]" * 10_000),
        400,
        "malformed_json",
    ),
    "nested_too_deep_before_login": (
        "POST /api/auth/token",
        JSON,
        b'{"username": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        400,
        "malformed_json",
    ),
    # Wrong content types.
    "text_plain": (PURCHASE, "text/plain", quantity("1"), 415, "unsupported_media_type"),
    "form": (
        PURCHASE,
        "application/x-www-form-urlencoded",
        b"quantity=1",
        415,
        "unsupported_media_type",
    ),
    "multipart": (PURCHASE, "multipart/form-data", quantity("1"), 415, "unsupported_media_type"),
    "no_content_type": (PURCHASE, None, quantity("1"), 415, "unsupported_media_type"),
    # Over the 64 KiB limit (config/limits.py).
    "body_over_limit": (PURCHASE, JSON, quantity("1" + " " * 65_536), 413, "request_too_large"),
    # Quantities that are huge, negative, fractional, strings or not numbers at all.
    "quantity_huge": (PURCHASE, JSON, quantity(str(10**30)), 400, "invalid_request"),
    "quantity_over_64_bits": (PURCHASE, JSON, quantity(str(2**63)), 400, "invalid_request"),
    "quantity_over_max": (PURCHASE, JSON, quantity("1000001"), 400, "invalid_request"),
    "quantity_infinite": (PURCHASE, JSON, quantity("1e400"), 400, "invalid_request"),
    "quantity_zero": (PURCHASE, JSON, quantity("0"), 400, "invalid_request"),
    "quantity_negative": (PURCHASE, JSON, quantity("-1"), 400, "invalid_request"),
    "quantity_fractional": (PURCHASE, JSON, quantity("1.5"), 400, "invalid_request"),
    "quantity_float_integer": (PURCHASE, JSON, quantity("1.0"), 400, "invalid_request"),
    "quantity_string": (PURCHASE, JSON, quantity('"2"'), 400, "invalid_request"),
    "quantity_bool": (PURCHASE, JSON, quantity("true"), 400, "invalid_request"),
    "quantity_null": (PURCHASE, JSON, quantity("null"), 400, "invalid_request"),
    "quantity_nan": (PURCHASE, JSON, quantity("NaN"), 400, "malformed_json"),
    "restock_quantity_negative": (
        "POST /api/items/{item}/restock",
        JSON,
        quantity("-5"),
        400,
        "invalid_request",
    ),
    # Ids out of range in the path.
    "id_zero": ("POST /api/items/0/purchase", JSON, quantity("1"), 404, "not_found"),
    "id_negative": ("POST /api/items/-1/purchase", JSON, quantity("1"), 404, "not_found"),
    "id_over_64_bits": (f"POST /api/items/{2**70}/purchase", JSON, quantity("1"), 404, "not_found"),
    "id_not_a_number": ("POST /api/items/abc/purchase", JSON, quantity("1"), 404, "not_found"),
    "id_of_no_item": (
        "POST /api/items/999999999999999999/purchase",
        JSON,
        quantity("1"),
        404,
        "unknown_item",
    ),
    "restock_id_zero": ("POST /api/items/0/restock", JSON, quantity("5"), 404, "not_found"),
    "get_id_over_64_bits": (f"GET /api/items/{2**70}", None, b"", 404, "not_found"),
    # A JSON number is not a string. The fuzzer found register taking one; SCHEMA_GAPS has to
    # relax negative_data_rejection there, so the finding is pinned here.
    "password_number": (
        "POST /api/auth/register",
        JSON,
        b'{"username": "carol", "password": 9.868836001643e+259}',
        400,
        "invalid_request",
    ),
}


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_request_gets_a_json_4xx(case, staff, item):
    target, content_type, body, status, error = case
    method, path = target.split(" ")
    headers = [
        (b"host", b"testserver"),
        (b"authorization", f"Bearer {access_token(staff)}".encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    request = HttpCommunicator(
        application, method, path.format(item=item.pk), body=body, headers=headers
    )
    response = await request.get_response(timeout=10)
    # Django closes the request's database connection (back to the pool) after the response.
    await request.wait(timeout=10)

    answer = {name.lower(): value for name, value in response["headers"]}
    problem = json_error_problem(
        response["status"], answer.get(b"content-type", b"").decode(), response["body"]
    )
    assert problem is None, problem
    assert (response["status"], orjson.loads(response["body"]).get("error")) == (status, error)
