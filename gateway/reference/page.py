"""`GET /docs`: the OpenAPI document as one HTML page, rendered by the gateway itself.

No script at all, and one stylesheet (`reference.css`) inline, allowed by the hash the
Content-Security-Policy names,
so the page runs under `default-src 'none'`: nothing the document holds (descriptions,
examples taken from providers' payloads) can execute. Every text is escaped; the few
Markdown constructs the descriptions use (paragraphs, lists, tables, `code`, **bold**) are
rendered after escaping.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Iterable
from importlib import resources
from typing import Any

Schema = dict[str, Any]

STYLESHEET = (resources.files(__package__) / "reference.css").read_text()
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src '{STYLE_HASH}'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
METHODS = ("get", "put", "post", "patch", "delete")
_CONSTRAINTS = (
    ("format", "format {}"),
    ("pattern", "pattern <code>{}</code>"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("default", "default <code>{}</code>"),
)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _inline(text: str) -> str:
    """Escaped text with `code` and **bold**."""
    escaped = _e(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


def markdown(text: str) -> str:
    """Paragraphs, `- ` lists and `|` tables; everything else is inline text."""
    blocks = re.split(r"\n\s*\n", text.strip())
    out = []
    for block in blocks:
        lines = block.splitlines()
        if all(line.startswith("- ") for line in lines):
            items = "".join(f"<li>{_inline(line[2:])}</li>" for line in lines)
            out.append(f"<ul>{items}</ul>")
        elif all(line.startswith("|") for line in lines) and len(lines) > 2:
            out.append(_table(lines))
        else:
            out.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "".join(out)


def _table(lines: list[str]) -> str:
    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    head = "".join(f"<th>{_inline(cell)}</th>" for cell in cells(lines[0]))
    rows = "".join(
        "<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in cells(line)) + "</tr>"
        for line in lines[2:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _anchor(kind: str, name: str) -> str:
    return kind + "-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_text(schema: Schema) -> str:
    """A schema in a few words: its type, linked references, alternatives, constraints."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f'<a href="#{_anchor("schema", name)}">{_e(name)}</a>'
    for combinator, joiner in (("anyOf", " or "), ("oneOf", " or ")):
        if combinator in schema:
            return joiner.join(type_text(item) for item in schema[combinator])
    if "allOf" in schema:
        return " with ".join(type_text(item) for item in schema["allOf"])
    if "const" in schema:
        return f"<code>{_e(json.dumps(schema['const']))}</code>"
    if "enum" in schema:
        return " | ".join(f"<code>{_e(json.dumps(value))}</code>" for value in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        text = "array of " + type_text(schema.get("items", {}))
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        text = "object of " + type_text(schema["additionalProperties"])
    elif "properties" in schema:
        text = _nested(schema)
    else:
        text = _e(kind or "any")
    constraints = [
        template.format(_e(json.dumps(schema[key]) if key == "default" else schema[key]))
        for key, template in _CONSTRAINTS
        if key in schema
    ]
    return text + (f" <small>({', '.join(constraints)})</small>" if constraints else "")


def _nested(schema: Schema) -> str:
    members = ", ".join(
        f"{_e(name)}: {type_text(member)}" for name, member in schema["properties"].items()
    )
    return f"{{{members}}}"


def _fields(schema: Schema) -> str:
    """An object schema's properties as a table (anything else in a line)."""
    if "properties" not in schema:
        return f"<p>{type_text(schema)}</p>"
    required = set(schema.get("required", ()))
    rows = []
    for name, member in schema["properties"].items():
        mark = "required" if name in required else "optional"
        text = markdown(member["description"]) if "description" in member else ""
        rows.append(
            f"<tr><td><code>{_e(name)}</code></td><td>{type_text(member)}</td>"
            f"<td>{mark}</td><td>{text}</td></tr>"
        )
    extra = "" if schema.get("additionalProperties") is not False else "<p>No other members.</p>"
    head = "<tr><th>member</th><th>type</th><th></th><th>description</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>{extra}"


def _example(value: Any) -> str:
    return f"<pre><code>{_e(json.dumps(value, indent=2, ensure_ascii=False))}</code></pre>"


def _content(content: Schema) -> str:
    parts = []
    for media_type, media in content.items():
        parts.append(f"<p><code>{_e(media_type)}</code>: {type_text(media.get('schema', {}))}</p>")
        for name, example in media.get("examples", {}).items():
            summary = example.get("summary", name)
            parts.append(f"<details><summary>Example: {_e(summary)}</summary>")
            parts.append(_example(example["value"]) + "</details>")
    return "".join(parts)


class _Page:
    def __init__(self, document: Schema) -> None:
        self.document = document
        self.responses: Schema = document["components"].get("responses", {})

    def response(self, status: str, response: Schema) -> str:
        if "$ref" in response:
            response = self.responses[_ref_name(response["$ref"])]
        headers = ", ".join(f"<code>{_e(name)}</code>" for name in response.get("headers", {}))
        parts = [f"<tr><td><strong>{_e(status)}</strong></td><td>"]
        parts.append(markdown(response["description"]))
        if "content" in response:
            parts.append(_content(response["content"]))
        if headers:
            parts.append(f"<p>Headers: {headers}</p>")
        parts.append("</td></tr>")
        return "".join(parts)

    def parameters(self, parameters: Iterable[Schema]) -> str:
        rows = [
            f"<tr><td><code>{_e(p['name'])}</code></td><td>{_e(p['in'])}</td>"
            f"<td>{type_text(p.get('schema', {}))}</td>"
            f"<td>{'required' if p.get('required') else 'optional'}</td>"
            f"<td>{markdown(p.get('description', ''))}</td></tr>"
            for p in parameters
        ]
        head = "<tr><th>name</th><th>in</th><th>type</th><th></th><th>description</th></tr>"
        return (
            f"<h4>Parameters</h4><table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
        )

    def security(self, requirements: list[Schema]) -> str:
        if not requirements:
            return "<p class=security>Public.</p>"
        names = [
            " and ".join(_e(name) for name in requirement) or "nothing"
            for requirement in requirements
        ]
        links = " or ".join(f"<code>{name}</code>" for name in names)
        see = '<a href="#security">security</a>'
        return f"<p class=security>Authenticated by {links} (see {see}).</p>"

    def operation(self, method: str, path: str, operation: Schema, anchor_kind: str) -> str:
        anchor = _anchor(anchor_kind, operation["operationId"])
        parts = [
            f'<section class=operation id="{anchor}">',
            f"<h3><span class='method {method}'>{method.upper()}</span> "
            f"<code>{_e(path)}</code></h3>",
            f"<p class=summary>{_inline(operation.get('summary', ''))}</p>",
        ]
        requirements: list[Schema] = (
            operation["security"] if "security" in operation else self.document["security"]
        )
        parts.append(self.security(requirements))
        if "description" in operation:
            parts.append(markdown(operation["description"]))
        if operation.get("parameters"):
            parts.append(self.parameters(operation["parameters"]))
        body = operation.get("requestBody")
        if body is not None:
            needed = "required" if body.get("required") else "optional"
            parts.append(f"<h4>Request body ({needed})</h4>")
            if "description" in body:
                parts.append(markdown(body["description"]))
            parts.append(_content(body["content"]))
        rows = "".join(self.response(status, r) for status, r in operation["responses"].items())
        parts.append(f"<h4>Responses</h4><table class=responses><tbody>{rows}</tbody></table>")
        parts.append("</section>")
        return "".join(parts)

    def schema(self, name: str, schema: Schema) -> str:
        parts = [f'<section class=schema id="{_anchor("schema", name)}"><h3>{_e(name)}</h3>']
        if "description" in schema:
            parts.append(markdown(schema["description"]))
        parts.append(_fields(schema))
        for example in schema.get("examples", []):
            parts.append(f"<details><summary>Example</summary>{_example(example)}</details>")
        parts.append("</section>")
        return "".join(parts)

    def render(self) -> str:
        document = self.document
        info = document["info"]
        by_tag: dict[str, list[str]] = {tag["name"]: [] for tag in document.get("tags", [])}
        contents: dict[str, list[str]] = {name: [] for name in by_tag}
        for path, item in document["paths"].items():
            for method in METHODS:
                if method in item:
                    operation = item[method]
                    tag = operation["tags"][0]
                    by_tag.setdefault(tag, []).append(self.operation(method, path, operation, "op"))
                    anchor = _anchor("op", operation["operationId"])
                    contents.setdefault(tag, []).append(
                        f'<li><a href="#{anchor}"><span class="method {method}">'
                        f"{method.upper()}</span> <code>{_e(path)}</code></a></li>"
                    )
        webhooks = [
            self.operation(method, name, item[method], "webhook")
            for name, item in document.get("webhooks", {}).items()
            for method in METHODS
            if method in item
        ]
        toc = "".join(
            f"<li>{_e(tag)}<ul>{''.join(items)}</ul></li>"
            for tag, items in contents.items()
            if items
        )
        tags = {tag["name"]: tag.get("description", "") for tag in document.get("tags", [])}
        sections = "".join(
            f'<section id="{_anchor("tag", tag)}"><h2>{_e(tag)}</h2>{markdown(tags.get(tag, ""))}'
            + "".join(operations)
            + "</section>"
            for tag, operations in by_tag.items()
            if operations
        )
        schemes = "".join(
            f"<tr><td><code>{_e(name)}</code></td><td>{_e(scheme.get('type'))} "
            f"{_e(scheme.get('scheme', scheme.get('name', '')))}</td>"
            f"<td>{markdown(scheme.get('description', ''))}</td></tr>"
            for name, scheme in document["components"]["securitySchemes"].items()
        )
        schemas = "".join(
            self.schema(name, schema) for name, schema in document["components"]["schemas"].items()
        )
        title = f"{info['title']} {info['version']}"
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)} API reference</title><style>{STYLESHEET}</style></head><body>"
            f"<nav><p><strong>{_e(title)}</strong></p><ul>{toc}"
            '<li><a href="#webhooks">Outbound webhooks</a></li>'
            '<li><a href="#security">Security</a></li><li><a href="#schemas">Schemas</a></li>'
            '</ul><p><a href="/openapi.json">openapi.json</a></p></nav><main>'
            f"<h1>{_e(title)} API reference</h1>{markdown(info.get('description', ''))}"
            f"{sections}"
            '<section id="webhooks"><h2>Outbound webhooks</h2>'
            "<p>What the gateway POSTs to subscribers, by format.</p>"
            f"{''.join(webhooks)}</section>"
            '<section id="security"><h2>Security</h2>'
            f"<table><tbody>{schemes}</tbody></table></section>"
            f'<section id="schemas"><h2>Schemas</h2>{schemas}</section>'
            "</main></body></html>"
        )


def render_page(document: Schema) -> str:
    return _Page(document).render()
