"""JSON the mock's models write: an instance of a JSON Schema (for `response_format: json_schema`
and tool-call arguments), filled deterministically from the answer text, and the strict-mode
schema rules the service enforces before it samples anything."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

_WORD = re.compile(r"\w+")
_MAX_DEPTH = 8


class SchemaError(ValueError):
    """A schema the service refuses; `where` is the JSON path of the offending subschema."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(message)
        self.where = where


def check_strict(schema: object, where: str = "()") -> None:
    """The service's strict-mode rules: every object closes `additionalProperties` and
    requires all of its properties."""
    if not isinstance(schema, dict):
        return
    kinds = schema.get("type")
    is_object = kinds == "object" or (isinstance(kinds, list) and "object" in kinds)
    if is_object or "properties" in schema:
        if schema.get("additionalProperties", True) is not False:
            raise SchemaError(
                "'additionalProperties' is required to be supplied and to be false.", where
            )
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        absent = [name for name in properties if name not in required]
        if absent:
            raise SchemaError(
                "'required' is required to be supplied and to be an array including every key "
                f"in properties. Missing '{absent[0]}'.",
                where,
            )
        for name, sub in properties.items():
            check_strict(sub, f"{where}, 'properties', '{name}'")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            check_strict(schema[key], f"{where}, '{key}'")
    for key in ("anyOf", "allOf"):
        for i, sub in enumerate(schema.get(key) or []):
            check_strict(sub, f"{where}, '{key}', {i}")
    for key in ("$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            check_strict(sub, f"{where}, '{key}', '{name}'")


class _Filler:
    def __init__(self, root: dict[str, Any], text: str, seed: str) -> None:
        self.root = root
        self.text = text.strip()
        self.words = _WORD.findall(text) or ["mock"]
        self.seed = seed
        self.used_text = False

    def _pick(self, path: str, size: int) -> int:
        digest = hashlib.sha256(f"{self.seed}:{path}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % max(1, size)

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while isinstance(schema.get("$ref"), str) and seen < _MAX_DEPTH:
            target: Any = self.root
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            seen += 1
        return schema

    def value(self, schema: object, path: str = "$", depth: int = 0) -> Any:
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return self._string({}, path)
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            options = schema["enum"]
            return options[self._pick(path, len(options))]
        for key in ("anyOf", "oneOf"):
            branches = [b for b in schema.get(key) or [] if isinstance(b, dict)]
            if branches:
                # The first branch that is not null: an optional field still gets a value.
                live = [b for b in branches if self._resolve(b).get("type") != "null"]
                return self.value((live or branches)[0], path, depth + 1)
        if isinstance(schema.get("allOf"), list):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                if isinstance(part, dict):
                    merged.update(self._resolve(part))
            return self.value(merged, path, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"] or ["null"]
            kind = kinds[0]
        if kind is None:
            kind = "object" if "properties" in schema else "string"
        if kind == "object":
            return self._object(schema, path, depth)
        if kind == "array":
            low = int(schema.get("minItems", 1))
            high = int(schema.get("maxItems", max(low, 2)))
            count = max(low, min(high, 1 + self._pick(path, 2)))
            return [
                self.value(schema.get("items", {}), f"{path}[{i}]", depth + 1) for i in range(count)
            ]
        if kind == "integer":
            return int(self._number(schema, path, integer=True))
        if kind == "number":
            return self._number(schema, path, integer=False)
        if kind == "boolean":
            return self._pick(path, 2) == 0
        if kind == "null":
            return None
        return self._string(schema, path)

    def _object(self, schema: dict[str, Any], path: str, depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = schema.get("required")
        names = list(properties) if required is None else [n for n in properties if n in required]
        if not names and properties:
            names = list(properties)[:1]
        return {n: self.value(properties[n], f"{path}.{n}", depth + 1) for n in names}

    def _number(self, schema: dict[str, Any], path: str, *, integer: bool) -> float:
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 100))
        if not isinstance(low, int | float) or isinstance(low, bool):
            low = 0
        if not isinstance(high, int | float) or isinstance(high, bool) or high < low:
            high = low + 100
        span = high - low
        if integer:
            start = int(low) + (
                1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0
            )
            return float(start + self._pick(path, max(1, int(span))))
        value = low + span * (self._pick(path, 1000) + 1) / 1002
        return round(float(value), 2)

    def _string(self, schema: dict[str, Any], path: str) -> str:
        fmt = schema.get("format")
        formats = {
            "date": "2025-04-14",
            "date-time": "2025-04-14T12:00:00Z",
            "time": "12:00:00",
            "email": "reader@example.com",
            "uri": "https://example.com/",
            "uuid": "00000000-0000-4000-8000-" + hashlib.sha256(path.encode()).hexdigest()[:12],
        }
        if fmt in formats:
            return formats[fmt]
        if not self.used_text and self.text:
            # The answer itself goes into the first free-text field: a tuned model's learned
            # reply survives structured output.
            self.used_text = True
            text = self.text
        else:
            start = self._pick(path, len(self.words))
            text = " ".join(self.words[start : start + 3])
        low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
        if isinstance(high, int):
            text = text[:high]
        while len(text) < low:
            text += " " + self.words[0]
        return text[: high if isinstance(high, int) else None]


def instance(schema: dict[str, Any], text: str, *, seed: str) -> Any:
    """A value that validates against `schema`, built from the words of `text`."""
    return _Filler(schema, text, seed).value(schema)


def json_object(text: str, prompt: str = "", *, seed: str = "") -> dict[str, Any]:
    """`json_object` mode: the answer itself when it is a JSON object; else, when the prompt
    shows the shape it wants (a JSON Schema, as LangChain's format instructions print one, or
    an example object), an instance of that shape; else the answer wrapped in an object."""
    parsed = _loads(text)
    if isinstance(parsed, dict):
        return parsed
    shape = _shape_in(prompt)
    if shape is not None:
        value = instance(shape, text, seed=seed)
        if isinstance(value, dict) and value:
            return value
    return {"response": text.strip()}


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return None


def _shape_in(prompt: str) -> dict[str, Any] | None:
    """The last JSON object written in the prompt, as a schema: itself if it is one, else the
    schema its example values imply."""
    decoder = json.JSONDecoder()
    found: dict[str, Any] | None = None
    at = prompt.find("{")
    while at != -1:
        try:
            value, end = decoder.raw_decode(prompt, at)
        except json.JSONDecodeError:
            at = prompt.find("{", at + 1)
            continue
        if isinstance(value, dict) and value:
            found = value
        at = prompt.find("{", end)
    if found is None:
        return None
    if isinstance(found.get("properties"), dict):
        return found
    return _schema_of(found)


def _schema_of(example: Any) -> dict[str, Any]:
    if isinstance(example, dict):
        properties = {k: _schema_of(v) for k, v in example.items()}
        return {"type": "object", "properties": properties, "required": list(properties)}
    if isinstance(example, list):
        return {"type": "array", "items": _schema_of(example[0]) if example else {}}
    if isinstance(example, bool):
        return {"type": "boolean"}
    if isinstance(example, int):
        return {"type": "integer"}
    if isinstance(example, float):
        return {"type": "number"}
    return {"type": "string"}
