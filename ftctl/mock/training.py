"""Training data checks (prepare's rules, ftctl.prepare.records) and the training a job "does":
resolved hyperparameters, steps, a seeded loss curve, checkpoints and exact token counts.
Everything here is a pure function of the job's inputs, so a job replays identically for a given
seed."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Any, Literal

from ftctl.models import MIN_TRAINING_EXAMPLES, default_epochs
from ftctl.prepare.records import (
    CHAT,
    PREFERENCE,
    PROMPT_COMPLETION,
    REINFORCEMENT,
    Issue,
    TokenCounter,
    check_record,
    issue_text,
    reinforcement_item,
)

Kind = Literal["completion", "chat", "dpo", "reinforcement"]

# The data format (ftctl.prepare.records) a job of each kind reads.
_FORMATS: dict[str, str] = {
    "completion": PROMPT_COMPLETION,
    "chat": CHAT,
    "dpo": PREFERENCE,
    "reinforcement": REINFORCEMENT,
}

KEPT_CHECKPOINTS = 3


class DataError(Exception):
    """A training or validation file the service would refuse while `validating_files`."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True)
class Dataset:
    examples: int
    tokens: int  # training tokens per pass over the file, as prepare counts and the service bills
    pairs: tuple[tuple[str, str], ...]  # (prompt, learned answer), in file order
    # reinforcement: each example's item (the fields its grader reads), in file order
    items: tuple[dict[str, Any], ...] = ()


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _last_content(messages: object, role: str) -> str:
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == role:
                return _text(message.get("content"))
    return ""


def _pair(row: dict[str, Any], kind: Kind) -> tuple[str, str]:
    """(prompt, learned answer) of a checked example: what a tuned model later answers with."""
    if kind == "completion":
        return str(row.get("prompt", "")), str(row["completion"])
    if kind == "dpo":
        return (
            _last_content(row["input"]["messages"], "user"),
            _last_content(row["preferred_output"], "assistant"),
        )
    return _last_content(row["messages"], "user"), _last_content(row["messages"], "assistant")


def _refusal(number: int, issue: Issue, fmt: str, model: str) -> str:
    """The service's wording for the first refused line."""
    if issue.category == "mixed_format":
        if fmt == PROMPT_COMPLETION:
            return f"Line {number}: chat format, but {model} is trained on prompt/completion pairs"
        return (
            f"Line {number}: prompt/completion format, but {model} is trained on chat "
            'format ({"messages": [...]})'
        )
    return f"Line {number}, {issue_text(issue)}"


def read_dataset(content: bytes, *, kind: Kind, model: str, param: str) -> Dataset:
    """Parse and check a JSONL file with prepare's per-line rules (ftctl.prepare.records), the
    way the service does; raise DataError naming the first refused line."""
    from ftctl.tokens import encoding_name_for_model, get_encoding

    counter = TokenCounter(get_encoding(encoding_name_for_model(model)).encode_ordinary)
    fmt = _FORMATS[kind]
    label = "training" if param == "training_file" else "validation"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"Invalid file format. The {label} file is not UTF-8: {exc}", param
        ) from None
    pairs: list[tuple[str, str]] = []
    items: list[dict[str, Any]] = []
    tokens = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise DataError(
                f"Invalid file format. Line {number} is not valid JSON.", param
            ) from None
        if not isinstance(row, dict):
            raise DataError(f"Invalid file format. Line {number} is not a JSON object.", param)
        result = check_record(row, fmt, counter)
        if result.issues:
            message = _refusal(number, result.issues[0], fmt, model)
            raise DataError(f"Invalid file format. {message}", param)
        tokens += result.tokens
        pairs.append(_pair(row, kind))
        if kind == "reinforcement":
            items.append(reinforcement_item(row))
    if len(pairs) < MIN_TRAINING_EXAMPLES:
        raise DataError(
            f"The {label} file has {len(pairs)} example(s), but must have at least "
            f"{MIN_TRAINING_EXAMPLES} examples.",
            param,
        )
    return Dataset(examples=len(pairs), tokens=tokens, pairs=tuple(pairs), items=tuple(items))


def auto_batch_size(n_examples: int) -> int:
    # About 0.2% of the file, as the service picks: 1 for small files, at most 256.
    return max(1, min(256, math.ceil(n_examples * 0.002)))


@dataclass(frozen=True)
class StepMetrics:
    step: int
    train_loss: float
    train_accuracy: float
    valid_loss: float | None
    valid_accuracy: float | None

    def data(self, total_steps: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "step": self.step,
            "train_loss": self.train_loss,
            "train_mean_token_accuracy": self.train_accuracy,
            "total_steps": total_steps,
        }
        if self.valid_loss is not None:
            out["valid_loss"] = self.valid_loss
            out["valid_mean_token_accuracy"] = self.valid_accuracy
        return out

    def message(self, total_steps: int) -> str:
        text = f"Step {self.step}/{total_steps}: training loss={self.train_loss:.2f}"
        if self.valid_loss is not None:
            text += f", validation loss={self.valid_loss:.2f}"
        return text


@dataclass(frozen=True)
class Plan:
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    beta: float | None
    steps_per_epoch: int
    total_steps: int
    trained_tokens: int
    metrics: tuple[StepMetrics, ...]

    @property
    def checkpoint_steps(self) -> list[int]:
        return [self.steps_per_epoch * e for e in range(1, self.n_epochs + 1)]


def make_plan(
    train: Dataset,
    *,
    seed: int,
    has_validation: bool,
    n_epochs: int | None,
    batch_size: int | None,
    learning_rate_multiplier: float | None,
    beta: float | None,
) -> Plan:
    """Resolve `auto` hyperparameters and lay out every step's metrics."""
    epochs = n_epochs or default_epochs(train.examples)
    batch = batch_size or auto_batch_size(train.examples)
    lr = learning_rate_multiplier if learning_rate_multiplier is not None else 2
    steps_per_epoch = math.ceil(train.examples / batch)
    total = steps_per_epoch * epochs
    rng = random.Random(seed)
    # Exponential decay towards a floor, with noise that shrinks as training settles; a higher
    # learning rate converges faster, as it would.
    start = rng.uniform(2.2, 3.4)
    floor = rng.uniform(0.02, 0.12)
    rate = rng.uniform(3.0, 4.5) * min(2.0, max(0.5, float(lr) / 2))
    gap = rng.uniform(0.03, 0.15)
    metrics = []
    for step in range(1, total + 1):
        progress = step / total
        noise = 1 + rng.uniform(-0.12, 0.12) * (1 - 0.5 * progress)
        loss = max(0.001, (floor + (start - floor) * math.exp(-rate * progress)) * noise)
        accuracy = min(1.0, max(0.0, 1.0 - loss / (start * 1.15)))
        valid_loss = valid_acc = None
        if has_validation:
            valid_loss = loss * (1 + gap) + rng.uniform(0, 0.02)
            valid_acc = min(1.0, max(0.0, 1.0 - valid_loss / (start * 1.15)))
            valid_loss, valid_acc = round(valid_loss, 4), round(valid_acc, 4)
        metrics.append(StepMetrics(step, round(loss, 4), round(accuracy, 4), valid_loss, valid_acc))
    return Plan(
        n_epochs=epochs,
        batch_size=batch,
        learning_rate_multiplier=lr,
        beta=beta,
        steps_per_epoch=steps_per_epoch,
        total_steps=total,
        trained_tokens=train.tokens * epochs,
        metrics=tuple(metrics),
    )


def results_csv(plan: Plan) -> bytes:
    lines = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
    for m in plan.metrics:
        valid = "" if m.valid_loss is None else f"{m.valid_loss},{m.valid_accuracy}"
        lines.append(f"{m.step},{m.train_loss},{m.train_accuracy},{valid or ','}")
    return ("\n".join(lines) + "\n").encode()
