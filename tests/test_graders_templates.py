"""The grader template language: references found, rendered, and checked against data lines."""

from __future__ import annotations

import pytest

from ftctl.graders.templates import (
    TemplateError,
    item_references,
    missing_item_fields,
    render,
    sample_namespace,
    template_references,
)

MULTI = {
    "type": "multi",
    "name": "both",
    "graders": {
        "exact": {
            "type": "string_check",
            "name": "exact",
            "input": "{{ sample.output_json.answer }}",
            "reference": "{{item.answer}}",
            "operation": "eq",
        },
        "judge": {
            "type": "score_model",
            "name": "judge",
            "model": "gpt-4o-mini",
            "input": [
                {"role": "system", "content": "Grade it."},
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "Ref: {{item.meta.ref}} / {{item.tags[1]}}"},
                        {"type": "input_image", "image_url": "{{item.image}}"},
                    ],
                },
            ],
        },
    },
    "calculate_output": "exact * judge",
}


def test_references_walk_nested_graders_and_model_messages() -> None:
    refs = template_references(MULTI)
    assert [(r.dotted, r.field) for r in refs] == [
        ("sample.output_json.answer", "graders.exact.input"),
        ("item.answer", "graders.exact.reference"),
        ("item.meta.ref", "graders.judge.input[1].content[0].text"),
        ("item.tags[1]", "graders.judge.input[1].content[0].text"),
        ("item.image", "graders.judge.input[1].content[1].image_url"),
    ]


def test_missing_item_fields_names_each_absent_variable_once() -> None:
    refs = item_references(MULTI)
    line = {"messages": [], "answer": "4", "meta": {"other": 1}, "tags": ["a"]}
    missing = [r.dotted for r in missing_item_fields(refs, line)]
    assert missing == ["item.meta.ref", "item.tags[1]", "item.image"]
    full = {"answer": "4", "meta": {"ref": "x"}, "tags": ["a", "b"], "image": "https://x/y.png"}
    assert missing_item_fields(refs, full) == []


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ foo.bar }}", "unknown namespace 'foo'"),
        ("{{ item }}", "names a namespace but no variable"),
        ("{{ sample.text }}", "the sample namespace has"),
        ("{{ item.a[x] }}", "cannot read"),
        ("{{ 3 }}", "is not a variable"),
    ],
)
def test_malformed_references_are_refused_naming_the_field(template: str, message: str) -> None:
    grader = {"type": "string_check", "input": "ok", "reference": template, "operation": "eq"}
    with pytest.raises(TemplateError, match=message) as caught:
        template_references(grader)
    assert caught.value.field == "reference"


def test_render_substitutes_strings_as_is_and_other_values_as_json() -> None:
    sample = sample_namespace('{"answer": 4, "why": ["x"]}')
    item = {"label": "four", "n": {"k": [1, 2]}}
    text = "{{sample.output_json.answer}} {{item.label}} {{ item.n }} {{sample.output_json.why[0]}}"
    assert render(text, item=item, sample=sample) == '4 four {"k":[1,2]} x'


def test_render_names_a_missing_variable() -> None:
    with pytest.raises(TemplateError, match=r"item.label is not in the item"):
        render("{{item.label}}", item={}, sample=sample_namespace("x"))
    with pytest.raises(TemplateError, match=r"sample.output_json.a is not in the sample"):
        render("{{sample.output_json.a}}", item={}, sample=sample_namespace("not json"))


def test_sample_namespace_for_text() -> None:
    sample = sample_namespace("Paris")
    assert sample["output_text"] == "Paris"
    assert sample["output_json"] is None
    assert sample["choices"][0]["message"] == {"role": "assistant", "content": "Paris"}


@pytest.mark.parametrize(
    "template",
    [
        "{{" + " " * 200_000,
        "{{" * 100_000,
        ("{{" + " " * 50) * 5000,
        "{{ item." + "a." * 50_000 + "b }}",
    ],
)
@pytest.mark.timeout(10)  # a backtracking pattern would take hours on these
def test_long_hostile_templates_do_not_hang_the_reader(template: str) -> None:
    grader = {"type": "string_check", "input": template, "reference": "x", "operation": "eq"}
    references = template_references(grader)
    assert len(references) == (1 if template.endswith("}}") else 0)
