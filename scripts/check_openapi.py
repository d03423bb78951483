#!/usr/bin/env python3
"""Static checks of openapi.yaml (no server needed).

1. The document is a valid OpenAPI 3.1 description (openapi-spec-validator).
2. Every operation has an operationId, a tag, a summary, an example for its request body and for
   every response that has content, and every documented 4xx/5xx response uses ErrorResponse.
3. Every example validates against its schema (JSON Schema 2020-12, `format` checked).
4. Every schema property has a description (directly or through its $ref target).

5. Tests/RZAPITests/Fixtures/openapi.json is openapi.yaml as JSON (the Swift tests read it; Foundation has
   no YAML parser). `--write-fixture` regenerates it; the Swift tests fail when openapi.yaml's FNV-1a hash
   differs from the one stamped in the fixture.

Usage: scripts/check_openapi.py [--write-fixture] [path/to/openapi.yaml]
       (needs: pip install openapi-spec-validator)
"""
import json
import sys
from pathlib import Path

import jsonschema
import yaml
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

args = [a for a in sys.argv[1:] if not a.startswith("--")]
write_fixture = "--write-fixture" in sys.argv[1:]
root = Path(__file__).resolve().parent.parent
spec_path = Path(args[0]) if args else root / "openapi.yaml"
fixture_path = root / "Tests" / "RZAPITests" / "Fixtures" / "openapi.json"
spec_bytes = spec_path.read_bytes()
spec = yaml.safe_load(spec_bytes)
validate(spec)

errors: list[str] = []
SPEC_URI = "urn:rzero:openapi"
registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))
format_checker = jsonschema.Draft202012Validator.FORMAT_CHECKER


def resolve(obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = spec
        for part in obj["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def check_example(where: str, schema: dict, example) -> None:
    wrapped = {"$ref": SPEC_URI + schema["$ref"]} if "$ref" in schema else schema
    validator = jsonschema.Draft202012Validator(wrapped, registry=registry, format_checker=format_checker)
    for e in validator.iter_errors(example):
        errors.append(f"{where}: example does not match schema at {list(e.absolute_path)}: {e.message}")


operations = 0
for path, item in spec["paths"].items():
    for method, op in item.items():
        if method not in {"get", "post", "put", "patch", "delete"}:
            continue
        operations += 1
        where = f"{method.upper()} {path}"
        for key in ("operationId", "summary", "tags"):
            if key not in op:
                errors.append(f"{where}: missing {key}")
        if "requestBody" in op:
            for ctype, media in op["requestBody"]["content"].items():
                if "example" not in media:
                    errors.append(f"{where}: request {ctype} has no example")
                else:
                    check_example(f"{where} request", media["schema"], media["example"])
        for status, response in op["responses"].items():
            response = resolve(response)
            content = response.get("content", {})
            # The OpenAI-compatible routes answer errors in OpenAI's shape, every other route in the API's own.
            error_schema = "OpenAIErrorResponse" if "openai" in op.get("tags", []) else "ErrorResponse"
            if status[0] in "45" and content.get("application/json", {}).get("schema", {}).get("$ref") != f"#/components/schemas/{error_schema}":
                errors.append(f"{where} {status}: error response does not use {error_schema}")
            for ctype, media in content.items():
                if "example" not in media:
                    errors.append(f"{where} {status} {ctype}: no example")
                else:
                    check_example(f"{where} {status}", media["schema"], media["example"])


def walk_properties(name: str, schema: dict) -> None:
    for prop, sub in schema.get("properties", {}).items():
        if "description" not in sub and "description" not in resolve(sub):
            errors.append(f"schema {name}.{prop}: no description")
        walk_properties(f"{name}.{prop}", sub)
    if isinstance(schema.get("items"), dict):
        walk_properties(f"{name}[]", schema["items"])


for name, schema in spec["components"]["schemas"].items():
    walk_properties(name, schema)



def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


fixture = {
    "format": "rzero-openapi-fixture",
    "version": 1,
    "source_fnv1a64": fnv1a64(spec_bytes),
    "regenerate": "scripts/check_openapi.py --write-fixture",
    "spec": spec,
}
fixture_text = json.dumps(fixture, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
if write_fixture:
    fixture_path.parent.mkdir(parents=True, exist_ok=True)
    fixture_path.write_text(fixture_text)
elif args == [] and (not fixture_path.exists() or fixture_path.read_text() != fixture_text):
    errors.append(f"{fixture_path} is stale: run scripts/check_openapi.py --write-fixture")

if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"{spec_path}: OK ({operations} operations, every example valid"
      + (f"; wrote {fixture_path.relative_to(root)})" if write_fixture else ")"))
