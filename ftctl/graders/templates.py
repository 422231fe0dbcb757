"""The grader template language: `{{ namespace.path }}` substitutions in grader strings.

Facts from OpenAI's graders guide: any `{{ }}` in a grader string is replaced by a variable's
value; the variable is `namespace.variable` and the only namespaces are `item` (the dataset line,
for reinforcement fine-tuning every top-level field besides `messages`) and `sample` (the model's
output: `output_text`, `output_json`, `output_tools`, `choices`, `output_audio`); nested values are
reached with a JSON-path-like syntax (`item.a.b`, `sample.output_tools[0].function.name`).

Pure functions over parsed JSON: prepare uses `template_references` and `missing_item_fields` to
check every line of reinforcement data against a grader, the grader engine uses `render`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NAMESPACES = ("item", "sample")
SAMPLE_FIELDS = frozenset({"output_text", "output_json", "output_tools", "choices", "output_audio"})

# `{{ ... }}` with anything but braces inside (stripped and parsed by parse_reference). No
# lazy quantifier beside `\s*`: that pair backtracks quadratically on a long unclosed `{{   `.
_TEMPLATE_RE = re.compile(r"\{\{([^{}]*)\}\}")
# One path step: `.key` or `[index]` or `["key"]`.
_STEP_RE = re.compile(r"""\.([^.\[\]\s]+)|\[(\d+)\]|\[\s*["']([^"']*)["']\s*\]""")
_HEAD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TemplateError(ValueError):
    """A template that cannot be rendered: bad syntax, unknown namespace or a missing variable."""

    def __init__(
        self, message: str, *, field: str, text: str, reference: Reference | None = None
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.message = message
        self.field = field
        self.text = text
        self.reference = reference  # the variable that is missing, when that is the problem


@dataclass(frozen=True)
class Reference:
    """One `{{ namespace.path }}` in a grader.

    `field` says where it was found, in the request's own notation (`graders.a.input`,
    `input[1].content`), so a message can point at it; `text` is the template as written.
    """

    namespace: str
    path: tuple[str | int, ...]
    field: str
    text: str

    @property
    def dotted(self) -> str:
        """`item.a.b[0]`: the variable as a user would write it."""
        out = self.namespace
        for step in self.path:
            out += f"[{step}]" if isinstance(step, int) else f".{step}"
        return out


def parse_reference(inner: str, *, field: str, text: str) -> Reference:
    """The reference inside one `{{ }}`; TemplateError when it is not `namespace.path`."""
    head = _HEAD_RE.match(inner)
    if head is None:
        raise TemplateError(
            f"{text} is not a variable like {{{{item.field}}}}", field=field, text=text
        )
    namespace = head.group(0)
    if namespace not in NAMESPACES:
        raise TemplateError(
            f"{text}: unknown namespace {namespace!r} (use item or sample)", field=field, text=text
        )
    path: list[str | int] = []
    position = head.end()
    while position < len(inner):
        step = _STEP_RE.match(inner, position)
        if step is None:
            raise TemplateError(f"{text}: cannot read {inner[position:]!r}", field=field, text=text)
        key, index, quoted = step.groups()
        path.append(int(index) if index is not None else key if key is not None else quoted)
        position = step.end()
    if not path:
        raise TemplateError(
            f"{text} names a namespace but no variable (like {{{{{namespace}.field}}}})",
            field=field,
            text=text,
        )
    if namespace == "sample" and path[0] not in SAMPLE_FIELDS:
        fields = ", ".join(sorted(SAMPLE_FIELDS))
        raise TemplateError(f"{text}: the sample namespace has {fields}", field=field, text=text)
    return Reference(namespace=namespace, path=tuple(path), field=field, text=text)


def string_references(template: str, *, field: str) -> list[Reference]:
    """Every reference in one grader string, in order. Raises TemplateError on a bad one."""
    return [
        parse_reference(match.group(1).strip(), field=field, text=match.group(0))
        for match in _TEMPLATE_RE.finditer(template)
    ]


def template_strings(grader: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(field, string) for every string of a grader that may hold templates, nested graders too.

    Template-bearing fields: `input`/`reference` of string_check and text_similarity; the messages
    in `input` of score_model and label_model (string content, `text` of text parts, an image's
    `image_url`, audio `data`). Python graders read item and sample directly, not by templates.
    Shapes the validator refuses are skipped here, not reported.
    """
    kind = grader.get("type")
    if kind in ("string_check", "text_similarity"):
        for key in ("input", "reference"):
            value = grader.get(key)
            if isinstance(value, str):
                yield f"{prefix}{key}", value
    elif kind in ("score_model", "label_model"):
        messages = grader.get("input")
        if isinstance(messages, list):
            for number, message in enumerate(messages):
                if isinstance(message, Mapping):
                    yield from content_strings(
                        message.get("content"), f"{prefix}input[{number}].content"
                    )
    elif kind == "multi":
        for name, sub in multi_subgraders(grader):
            yield from template_strings(sub, f"{prefix}graders.{name}.")


def multi_subgraders(grader: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """A multi grader's (name, grader) pairs.

    The service takes `graders` as an object of named graders (the names are the variables of
    `calculate_output`); OpenAPI also describes a single grader object, which is named by its
    own `name` here.
    """
    graders = grader.get("graders")
    if not isinstance(graders, Mapping):
        return []
    if isinstance(graders.get("type"), str):
        name = graders.get("name")
        return [(name if isinstance(name, str) else "grader", graders)]
    return [(str(key), sub) for key, sub in graders.items() if isinstance(sub, Mapping)]


def content_strings(content: object, field: str) -> Iterator[tuple[str, str]]:
    """(field, string) for the template-bearing strings of one model-grader message's content."""
    if isinstance(content, str):
        yield field, content
    elif isinstance(content, Mapping):
        for key in ("text", "image_url"):
            value = content.get(key)
            if isinstance(value, str):
                yield f"{field}.{key}", value
        audio = content.get("input_audio")
        if isinstance(audio, Mapping) and isinstance(audio.get("data"), str):
            yield f"{field}.input_audio.data", audio["data"]
    elif isinstance(content, list):
        for number, part in enumerate(content):
            yield from content_strings(part, f"{field}[{number}]")


def template_references(grader: Mapping[str, Any]) -> list[Reference]:
    """Every `{{ }}` reference in a grader, nested graders included, in document order.

    Raises TemplateError on the first malformed one (unknown namespace, bad path).
    """
    references: list[Reference] = []
    for field, text in template_strings(grader):
        references.extend(string_references(text, field=field))
    return references


def item_references(grader: Mapping[str, Any]) -> list[Reference]:
    """The references a grader makes to the item namespace (what each data line must hold)."""
    return [ref for ref in template_references(grader) if ref.namespace == "item"]


_MISSING = object()


def lookup(value: object, path: Sequence[str | int]) -> object:
    """The value at `path` inside `value`, or the _MISSING sentinel."""
    for step in path:
        if isinstance(step, int) and isinstance(value, list):
            if step >= len(value):
                return _MISSING
            value = value[step]
        elif isinstance(value, Mapping) and str(step) in value:
            value = value[str(step)]
        else:
            return _MISSING
    return value


def has_value(value: object, path: Sequence[str | int]) -> bool:
    return lookup(value, path) is not _MISSING


def missing_item_fields(
    references: Sequence[Reference], item: Mapping[str, Any]
) -> list[Reference]:
    """The item references one data line cannot satisfy (first of each variable only)."""
    missing: list[Reference] = []
    seen: set[tuple[str | int, ...]] = set()
    for ref in references:
        if ref.namespace != "item" or ref.path in seen:
            continue
        seen.add(ref.path)
        if not has_value(item, ref.path):
            missing.append(ref)
    return missing


def sample_namespace(model_sample: str) -> dict[str, Any]:
    """The `sample` namespace for a text sample, as the run endpoint builds it.

    `output_json` is the sample parsed when it is valid JSON (else None); the text sample has no
    tool calls or audio; `choices` holds one assistant message, Chat Completions style.
    """
    try:
        output_json: Any = json.loads(model_sample)
    except ValueError:
        output_json = None
    return {
        "output_text": model_sample,
        "output_json": output_json,
        "output_tools": [],
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": model_sample},
            }
        ],
        "output_audio": None,
    }


def render_value(value: object) -> str:
    """A substituted value as text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def render(
    template: str,
    *,
    item: Mapping[str, Any],
    sample: Mapping[str, Any],
    field: str = "input",
) -> str:
    """`template` with every reference replaced; TemplateError names a missing variable."""
    namespaces: dict[str, Mapping[str, Any]] = {"item": item, "sample": sample}

    def substitute(match: re.Match[str]) -> str:
        ref = parse_reference(match.group(1).strip(), field=field, text=match.group(0))
        value = lookup(namespaces[ref.namespace], ref.path)
        if value is _MISSING:
            raise TemplateError(
                f"{ref.text}: {ref.dotted} is not in the {ref.namespace}",
                field=field,
                text=ref.text,
                reference=ref,
            )
        return render_value(value)

    return _TEMPLATE_RE.sub(substitute, template)
