"""The OpenAPI document: generated from the route table, committed as docs/openapi.json,
served at /openapi.json, valid OpenAPI 3.1, and covering every route the app serves."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from gateway.errors import ERROR_CODES
from gateway.events.filters import FILTER_PATTERN
from gateway.http.appkeys import ROUTE_TABLE
from gateway.inbound.openapi import KINDS, example_bytes
from tests.conftest import ROOT
from tests.http.conftest import make_app

COMMITTED = ROOT / "docs" / "openapi.json"
REGENERATE = "python -m gateway openapi > docs/openapi.json"
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(COMMITTED.read_text())
    return loaded


def test_the_committed_document_is_what_the_code_generates() -> None:
    generated = subprocess.run(
        [sys.executable, "-m", "gateway", "openapi"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert generated == COMMITTED.read_bytes(), (
        f"docs/openapi.json is not what the code generates; regenerate it: {REGENERATE}"
    )


async def test_the_gateway_serves_the_committed_document(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app())
    response = await client.get("/openapi.json")  # no admin key: public
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.read() == COMMITTED.read_bytes()


def test_it_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    errors = list(OpenAPIV31SpecValidator(document).iter_errors())
    assert not errors, [error.message[:300] for error in errors[:5]]
    assert document["openapi"] == "3.1.0"


def test_every_route_of_the_app_is_an_operation(document: dict[str, Any]) -> None:
    """HEAD is answered by every GET route and not listed separately."""
    app = make_app()
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert served == documented
    names = [route.name for route in app[ROUTE_TABLE].routes]
    operation_ids = [
        op["operationId"] for item in document["paths"].values() for op in item.values()
    ]
    assert sorted(names) == sorted(operation_ids)
    assert len(set(names)) == len(names)


def test_admin_routes_say_so_and_public_ones_need_nothing(document: dict[str, Any]) -> None:
    app = make_app()
    for route in app[ROUTE_TABLE].routes:
        operation = document["paths"][route.path][route.method.lower()]
        if route.access == "admin":
            assert operation["security"] == [{"adminKey": []}], route.name
            assert operation["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"}
        else:
            assert {"adminKey": []} not in operation["security"], route.name


def test_error_responses_name_their_codes(document: dict[str, Any]) -> None:
    """Each error response's `code` is limited to codes of its status, and every code the
    gateway knows is documented somewhere."""
    seen = set()
    for name, response in document["components"]["responses"].items():
        schema = response["content"]["application/json"]["schema"]
        code = schema["allOf"][1]["properties"]["error"]["properties"]["code"]
        codes = code.get("enum", [code.get("const")])
        seen.update(codes)
        assert name == "Or".join(c.title().replace("_", "") for c in codes)
        assert len({ERROR_CODES[c][0] for c in codes}) == 1
        assert "UC-REST-ERROR" in response["headers"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if "$ref" in response:
                    name = response["$ref"].rsplit("/", 1)[1]
                    first = name.split("Or")[0]
                    code = re.sub(r"(?<!^)([A-Z])", r"_\1", first).lower()
                    assert ERROR_CODES[code][0] == int(status), (method, path, status)
    assert seen == set(ERROR_CODES) - {"method_not_allowed"}  # any path, any wrong method


def _resolved(document: dict[str, Any]) -> Any:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    return Registry().with_resource("urn:openapi", resource)


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    text = json.dumps(schema).replace('"#/components/', '"urn:openapi#/components/')
    return jsonschema.Draft202012Validator(json.loads(text), registry=_resolved(document))


def test_every_example_conforms_to_its_schema(document: dict[str, Any]) -> None:
    """Examples of component schemas and request bodies (the webhook examples are the
    providers' payloads, described by a kind-independent `object`)."""
    checked = 0
    for name, schema in document["components"]["schemas"].items():
        for example in schema.get("examples", []):
            ref = {"$ref": f"#/components/schemas/{name}"}
            errors = list(_validator(document, ref).iter_errors(example))
            assert not errors, (name, errors[0].message)
            checked += 1
    for item in document["paths"].values():
        for operation in item.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                for example in media.get("examples", {}).values():
                    _validator(document, media["schema"]).validate(example["value"])
                    checked += 1
    assert checked >= 15


def test_webhook_examples_are_the_test_fixtures() -> None:
    """The package's copies (the wheel carries no tests) are byte for byte the fixtures."""
    names = [name for kind in KINDS for name in kind.examples]
    kinds = {name for kind in KINDS for name in kind.kinds}
    assert kinds == {"hubster-system", "hubster-direct", "scg", "standard", "twilio", "telnyx"}
    for name in names:
        assert example_bytes(name) == (FIXTURES / name).read_bytes(), name
    packaged = {path.name for path in (ROOT / "gateway" / "inbound" / "examples").iterdir()}
    assert packaged == set(names)


def test_the_filter_pattern_is_what_check_filter_accepts(document: dict[str, Any]) -> None:
    from gateway.events.filters import check_filter

    pattern = re.compile(FILTER_PATTERN)
    samples = [
        "*",
        "message",
        "message:customer",
        "receipt:a b",
        "event:a\nb",
        "*:x",
        "message:",
        "message: x",
        "message:x ",
        "bogus",
        "Message",
        "event:x\n",
        "*\n",
    ]
    for sample in samples:
        try:
            check_filter(sample)
            accepted = True
        except ValueError:
            accepted = False
        assert accepted == bool(pattern.search(sample)), repr(sample)
    events = document["components"]["schemas"]["SubscriberCreate"]["properties"]["events"]
    assert events["items"]["pattern"] == FILTER_PATTERN


DOCS = sorted(
    path for path in (ROOT / "docs").iterdir() if path.suffix in {".md", ".json", ".yaml"}
)


OUTSIDE = ("../shared", "contract §", "contract.md", "providers.md")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_the_docs_stand_alone(path: Path) -> None:
    """Nothing in docs/ points outside the repository."""
    text = path.read_text()
    for outside in OUTSIDE:
        assert outside not in text, f"{path.name} mentions {outside}"


def test_the_code_and_tests_point_at_the_projects_own_docs() -> None:
    """Comments and docstrings cite docs/, never a document outside the repository."""
    suffixes = {".py", ".js", ".html", ".css", ".toml", ".md", ".lua", ".yaml", ".cfg", ".sh"}
    sources = [ROOT / "README.md", ROOT / "scripts" / "test", ROOT / "Dockerfile"]
    for folder in ("gateway", "signing", "bench", "tests", "config", "deploy"):
        sources += (path for path in (ROOT / folder).rglob("*") if path.suffix in suffixes)
    found = [
        f"{path.relative_to(ROOT)}: {outside}"
        for path in sources
        if path != Path(__file__)
        for outside in OUTSIDE
        if outside in path.read_text(errors="replace")
    ]
    assert found == []


@pytest.mark.parametrize(
    "path",
    [ROOT / "README.md", *(path for path in DOCS if path.suffix == ".md")],
    ids=lambda p: p.name,
)
def test_every_link_stays_in_the_repository(path: Path) -> None:
    """README and docs link only to files of the repository (that exist) and to headings
    that exist in them (a renamed heading breaks the links to it)."""
    for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
        assert "://" not in target and not target.startswith(".."), f"{path.name}: {target}"
        file, _, anchor = target.partition("#")
        linked = path.parent / file if file else path
        assert linked.exists(), f"{path.name}: {target} does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in _heading_anchors(linked), f"{path.name}: {target}: no such heading"


def _heading_anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings: lower case, punctuation but
    `-` and `_` dropped, spaces as `-`, `-1`, `-2`... after a repeated one."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        heading = None if in_code else re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading[1].strip().lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors
