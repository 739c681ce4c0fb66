"""One way to raise an error: every refusal is a typed error naming its case, and every class
a route may answer with is documented on that route."""

import ast
from pathlib import Path

from api.config import ApiSettings
from api.main import create_app

SOURCES = Path(__file__).resolve().parents[2] / "services" / "api" / "src" / "api"
# The bases: raising one with a sentence of its own is a second way to raise an error (naming
# the `field` at fault, as a missing credential header does, keeps the class's sentence).
BASES = {"GatewayError", "BadRequest", "NotFound", "Conflict", "AuthenticationFailed"}


def test_no_base_error_is_raised_with_a_sentence_of_its_own():
    ad_hoc = [
        f"{path.relative_to(SOURCES)}:{node.lineno}"
        for path in SOURCES.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in BASES
        and (node.args or any(keyword.arg == "description" for keyword in node.keywords))
    ]
    assert ad_hoc == [], "raise a typed subclass instead"


def test_every_operation_declares_its_errors_and_no_foreign_422():
    document = create_app(
        ApiSettings(database_url="postgresql://unused", redis_url="redis://unused")
    ).openapi()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "default" in responses, (method, path)
            schemas = [
                media.get("schema", {}).get("$ref", "")
                for response in responses.values()
                for media in response.get("content", {}).values()
            ]
            assert not [s for s in schemas if s.endswith("/HTTPValidationError")], (method, path)
            if "requestBody" in operation:
                assert {"400", "413"} <= responses.keys(), (method, path)
            if operation.get("security"):
                assert "429" in responses, (method, path)
    orders = document["paths"]["/api/v1/orders"]["post"]["responses"]
    assert "Idempotency-Key must be 1 to 255 printable characters" in orders["400"]["description"]
    assert "IDEMPOTENCY_KEY_MISMATCH" in orders["422"]["description"]
