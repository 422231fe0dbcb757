"""Training data checks and the training a job "does": resolved hyperparameters, steps, a seeded
loss curve, checkpoints and exact token counts. Everything here is a pure function of the job's
inputs, so a job replays identically for a given seed."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Any, Literal

from ftctl.models import MIN_TRAINING_EXAMPLES, default_epochs
from ftctl.tokens import chat_tokens

Kind = Literal["completion", "chat", "dpo"]

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
    tokens: int  # per pass over the file
    pairs: tuple[tuple[str, str], ...]  # (prompt, learned answer), in file order


def _check_messages(messages: object, where: str, *, need_assistant: bool) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise ValueError(f'{where}: "messages" must be a non-empty list')
    for i, message in enumerate(messages, 1):
        if not isinstance(message, dict):
            raise ValueError(f"{where}, message {i}: must be an object")
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            raise ValueError(f'{where}, message {i}: invalid "role" {role!r}')
        content = message.get("content")
        if not isinstance(content, str) and not (
            role == "assistant" and (content is None and "tool_calls" in message)
        ):
            raise ValueError(f'{where}, message {i}: "content" must be a string')
    if need_assistant and not any(m.get("role") == "assistant" for m in messages):
        raise ValueError(f"{where}: no assistant message to learn from")
    return messages


def _last_content(messages: list[dict[str, Any]], role: str) -> str:
    for message in reversed(messages):
        if message.get("role") == role and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def read_dataset(content: bytes, *, kind: Kind, model: str, param: str) -> Dataset:
    """Parse and check a JSONL file the way the service does; raise DataError naming the line."""
    from ftctl.tokens import encoding_for_model

    enc = encoding_for_model(model)
    label = "training" if param == "training_file" else "validation"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"Invalid file format. The {label} file is not UTF-8: {exc}", param
        ) from None
    pairs: list[tuple[str, str]] = []
    tokens = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"Line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise DataError(f"Invalid file format. {where} is not valid JSON.", param) from None
        if not isinstance(row, dict):
            raise DataError(f"Invalid file format. {where} is not a JSON object.", param)
        try:
            if kind == "completion":
                prompt, completion = row.get("prompt"), row.get("completion")
                if "messages" in row:
                    raise ValueError(
                        f"{where}: chat format, but {model} is trained on prompt/completion pairs"
                    )
                for key, value in (("prompt", prompt), ("completion", completion)):
                    if not isinstance(value, str):
                        raise ValueError(f'{where}: key "{key}" must be a string')
                assert isinstance(prompt, str) and isinstance(completion, str)
                pairs.append((prompt, completion))
                tokens += len(enc.encode_ordinary(prompt)) + len(enc.encode_ordinary(completion))
            elif kind == "chat":
                if "prompt" in row and "messages" not in row:
                    raise ValueError(
                        f"{where}: prompt/completion format, but {model} is trained on chat "
                        'format ({"messages": [...]})'
                    )
                messages = _check_messages(row.get("messages"), where, need_assistant=True)
                pairs.append(
                    (_last_content(messages, "user"), _last_content(messages, "assistant"))
                )
                tokens += chat_tokens(messages, enc)
            else:
                source = row.get("input")
                if not isinstance(source, dict):
                    raise ValueError(f'{where}: key "input" must be an object with "messages"')
                messages = _check_messages(source.get("messages"), where, need_assistant=False)
                outputs = []
                for key in ("preferred_output", "non_preferred_output"):
                    value = _check_messages(row.get(key), f"{where}, {key}", need_assistant=True)
                    outputs.append(value)
                pairs.append(
                    (_last_content(messages, "user"), _last_content(outputs[0], "assistant"))
                )
                tokens += chat_tokens(messages, enc) + sum(chat_tokens(o, enc) for o in outputs)
        except ValueError as exc:
            raise DataError(f"Invalid file format. {exc}", param) from None
    if len(pairs) < MIN_TRAINING_EXAMPLES:
        raise DataError(
            f"The {label} file has {len(pairs)} example(s), but must have at least "
            f"{MIN_TRAINING_EXAMPLES} examples.",
            param,
        )
    return Dataset(examples=len(pairs), tokens=tokens, pairs=tuple(pairs))


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
