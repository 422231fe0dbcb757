"""Cut the part of OpenAI's OpenAPI description that ftctl and its mock use.

    python scripts/openapi_subset.py [SPEC] [--out fixtures/openapi/openapi.json]

SPEC defaults to /work/shared/openai-openapi/openapi.yaml (openai/openai-openapi, commit f85dbe2).
The output is a valid OpenAPI 3.1 document holding only the operations in OPERATIONS, their path
items' parameters, and every component they reference, transitively (`$ref`s are walked), plus
`ErrorResponse` and `Error`. Operations and components are copied verbatim except for repairs of
OpenAPI 3.0 leftovers that 3.1 (JSON Schema 2020-12) reads differently or rejects:

- `nullable: true` (43 places; 3.1 ignores the keyword, so `finish_reason: null` in a stream chunk
  would be refused) becomes a type admitting null: `type: [T, "null"]`, or `anyOf: [..., null]`;
- boolean `exclusiveMinimum: true` next to `minimum: M` (7) becomes `exclusiveMinimum: M` (the same
  for `exclusiveMaximum`), since 2020-12 wants a number;
- a `default: null` left on a schema whose type excludes null (1) is dropped;
- GraderMulti's `graders` also takes an object of named graders, the form the service reads (its
  keys are `calculate_output`'s variables; the description shows only one grader object).

The top-level `x-oaiMeta` (documentation navigation) and unused tags are dropped. The output is
deterministic: the same input gives a byte-identical file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DEFAULT_SPEC = Path("/work/shared/openai-openapi/openapi.yaml")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "fixtures" / "openapi" / "openapi.json"

OPERATIONS: tuple[str, ...] = (
    # fine-tuning
    "createFineTuningJob",
    "listPaginatedFineTuningJobs",
    "retrieveFineTuningJob",
    "cancelFineTuningJob",
    "pauseFineTuningJob",
    "resumeFineTuningJob",
    "listFineTuningEvents",
    "listFineTuningJobCheckpoints",
    "createFineTuningCheckpointPermission",
    "listFineTuningCheckpointPermissions",
    "deleteFineTuningCheckpointPermission",
    # files
    "createFile",
    "listFiles",
    "retrieveFile",
    "downloadFile",
    "deleteFile",
    # uploads
    "createUpload",
    "addUploadPart",
    "completeUpload",
    "cancelUpload",
    # models
    "listModels",
    "retrieveModel",
    "deleteModel",
    # inference
    "createCompletion",
    "createChatCompletion",
    # graders
    "validateGrader",
    "runGrader",
)

# Always kept, even if no kept operation declares them (4xx bodies are undeclared in the spec).
EXTRA_SCHEMAS: tuple[str, ...] = ("ErrorResponse", "Error")

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _load(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as fh:
        doc = yaml.load(fh, Loader=loader)
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3.1"):
        raise SystemExit(f"{path}: not an OpenAPI 3.1 document")
    return doc


def _refs(node: Any) -> Iterator[str]:
    """Every `$ref` string under node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _pointer_parts(ref: str) -> list[str]:
    if not ref.startswith("#/"):
        raise SystemExit(f"external $ref not supported: {ref}")
    return [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]


def repair_exclusive_bounds(node: Any) -> int:
    """Rewrite 3.0-style boolean exclusiveMinimum/Maximum into the 3.1 numeric form, in place.

    Returns how many were rewritten."""
    count = 0
    if isinstance(node, dict):
        for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if isinstance(node.get(flag), bool):
                if node[flag] and bound in node:
                    node[flag] = node.pop(bound)
                else:
                    del node[flag]
                count += 1
        for value in node.values():
            count += repair_exclusive_bounds(value)
    elif isinstance(node, list):
        for item in node:
            count += repair_exclusive_bounds(item)
    return count


def repair_nullable(node: Any) -> int:
    """Rewrite OpenAPI 3.0's `nullable: true` (ignored by 3.1) into a type that admits null.

    `type: T` becomes `type: [T, "null"]` (and an `enum` gains `null`); a schema without a plain
    `type` (a `$ref` or a combinator) becomes `anyOf: [schema, {type: null}]`; `nullable` on a
    schema with neither only says nothing and is dropped. In place; returns the count."""
    count = 0
    if isinstance(node, dict):
        for value in node.values():
            count += repair_nullable(value)
        if "nullable" in node:
            nullable = node.pop("nullable") is True
            count += 1
            declared = node.get("type")
            if not nullable:
                pass
            elif isinstance(declared, str):
                node["type"] = [declared, "null"]
                if isinstance(node.get("enum"), list) and None not in node["enum"]:
                    node["enum"].append(None)
            elif any(k in node for k in ("$ref", "oneOf", "anyOf", "allOf")):
                annotations = {k: node.pop(k) for k in ("description", "default") if k in node}
                inner = dict(node)
                node.clear()
                node.update(annotations)
                node["anyOf"] = [inner, {"type": "null"}]
    elif isinstance(node, list):
        for item in node:
            count += repair_nullable(item)
    return count


def repair_null_defaults(node: Any) -> int:
    """Drop `default: null` where the schema's own `type` excludes null, in place."""
    count = 0
    if isinstance(node, dict):
        declared = node.get("type")
        types = declared if isinstance(declared, list) else [declared]
        if "default" in node and node["default"] is None and declared and "null" not in types:
            del node["default"]
            count += 1
        for value in node.values():
            count += repair_null_defaults(value)
    elif isinstance(node, list):
        for item in node:
            count += repair_null_defaults(item)
    return count


def repair_multi_graders(doc: dict[str, Any]) -> int:
    """Let GraderMulti's `graders` be a map of name -> grader too, in place; returns the count."""
    schema = doc.get("components", {}).get("schemas", {}).get("GraderMulti")
    if not schema or "graders" not in schema.get("properties", {}):
        return 0
    single = schema["properties"]["graders"]
    if "anyOf" in single:
        return 0
    named = {"type": "object", "additionalProperties": {"oneOf": single["oneOf"]}}
    schema["properties"]["graders"] = {"anyOf": [single, named]}
    return 1


def subset(doc: dict[str, Any], operations: tuple[str, ...] = OPERATIONS) -> dict[str, Any]:
    wanted = set(operations)
    paths: dict[str, Any] = {}
    found: set[str] = set()
    for path, item in doc["paths"].items():
        kept = {}
        for method, op in item.items():
            if method in HTTP_METHODS and isinstance(op, dict) and op.get("operationId") in wanted:
                kept[method] = op
                found.add(op["operationId"])
        if kept:
            # path-level fields (parameters, summary...) apply to every operation on the path
            shared = {k: v for k, v in item.items() if k not in HTTP_METHODS}
            paths[path] = {**shared, **kept}
    missing = wanted - found
    if missing:
        raise SystemExit(f"operations not in the description: {', '.join(sorted(missing))}")

    # Walk $refs transitively from the kept paths and the always-kept schemas.
    components: dict[str, dict[str, Any]] = {}
    queue = [*(_refs(paths)), *(f"#/components/schemas/{name}" for name in EXTRA_SCHEMAS)]
    seen: set[str] = set()
    while queue:
        ref = queue.pop()
        if ref in seen:
            continue
        seen.add(ref)
        parts = _pointer_parts(ref)
        if len(parts) < 3 or parts[0] != "components":
            raise SystemExit(f"$ref outside components not supported: {ref}")
        section, name = parts[1], parts[2]
        try:
            target = doc["components"][section][name]
        except KeyError:
            raise SystemExit(f"dangling $ref: {ref}") from None
        components.setdefault(section, {})[name] = target
        queue.extend(_refs(target))

    # Keep the security scheme the operations use.
    security = doc.get("security", [])
    scheme_names = {name for requirement in security for name in requirement}
    for item in paths.values():
        for method, op in item.items():
            if method in HTTP_METHODS:
                for requirement in op.get("security", []):
                    scheme_names.update(requirement)
    schemes = doc.get("components", {}).get("securitySchemes", {})
    if scheme_names:
        components["securitySchemes"] = {n: schemes[n] for n in sorted(scheme_names)}

    used_tags = {
        tag
        for item in paths.values()
        for method, op in item.items()
        if method in HTTP_METHODS
        for tag in op.get("tags", [])
    }
    info = dict(doc["info"])
    info["description"] = (
        f"{info.get('description', '').strip()}\n\nSubset for ftctl: only the operations "
        "ftctl and its mock server use, with the components they reference. Cut by "
        "scripts/openapi_subset.py from openai/openai-openapi (commit f85dbe2)."
    )
    out: dict[str, Any] = {
        "openapi": doc["openapi"],
        "info": info,
        "servers": doc.get("servers", []),
        "security": security,
        "tags": [t for t in doc.get("tags", []) if t.get("name") in used_tags],
        "paths": paths,
        "components": {
            section: dict(sorted(entries.items()))
            for section, entries in sorted(components.items())
        },
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not args.spec.exists():
        print(f"{args.spec}: no such file", file=sys.stderr)
        return 2
    result = json.loads(json.dumps(subset(_load(args.spec))))  # a deep copy, safe to repair
    repaired = (
        repair_exclusive_bounds(result)
        + repair_nullable(result)
        + repair_null_defaults(result)
        + repair_multi_graders(result)
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=1, ensure_ascii=False) + "\n"
    args.out.write_text(text, encoding="utf-8")
    n_ops = sum(1 for item in result["paths"].values() for m in item if m in HTTP_METHODS)
    n_schemas = len(result["components"].get("schemas", {}))
    print(
        f"wrote {args.out}: {n_ops} operations, {n_schemas} schemas, "
        f"{repaired} 3.0 leftovers repaired, {len(text)} bytes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
