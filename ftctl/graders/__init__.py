"""Graders: the template language, validation and a local engine that runs them.

Pure code (no Typer, Rich or openai), shared by the mock server, prepare/create and the tests:

- `validate_grader(grader)` raises `GraderError(message, param, code)` as the service refuses;
- `run_grader(grader, item, sample)` returns a RunGraderResponse-shaped dict (cheap for every
  type but `python`, which starts a limited process per call); `run_grader_many(grader,
  [(item, sample), ...])` grades many pairs with one process per python grader;
- `template_references(grader)` / `missing_item_fields(refs, item)` check data lines against the
  `{{item.*}}` fields a grader reads.
"""

from ftctl.graders.engine import run_grader, run_grader_many
from ftctl.graders.templates import (
    Reference,
    TemplateError,
    item_references,
    missing_item_fields,
    template_references,
)
from ftctl.graders.validation import GraderError, validate_grader

__all__ = [
    "GraderError",
    "Reference",
    "TemplateError",
    "item_references",
    "missing_item_fields",
    "run_grader",
    "run_grader_many",
    "template_references",
    "validate_grader",
]
