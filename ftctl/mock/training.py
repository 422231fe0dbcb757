"""Training data checks (prepare's rules, ftctl.prepare.records) and the training a job "does":
resolved hyperparameters, steps, a seeded loss curve, checkpoints and exact token counts.
Everything here is a pure function of the job's inputs, so a job replays identically for a given
seed."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
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
    """One step of supervised or DPO training: losses and token accuracies."""

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

    def checkpoint_metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "step": self.step,
            "train_loss": self.train_loss,
            "train_mean_token_accuracy": self.train_accuracy,
        }
        if self.valid_loss is not None:
            out |= {
                "valid_loss": self.valid_loss,
                "valid_mean_token_accuracy": self.valid_accuracy,
                "full_valid_loss": self.valid_loss,
                "full_valid_mean_token_accuracy": self.valid_accuracy,
            }
        return out

    def csv_row(self) -> str:
        valid = "," if self.valid_loss is None else f"{self.valid_loss},{self.valid_accuracy}"
        return f"{self.step},{self.train_loss},{self.train_accuracy},{valid}"


LOSS_CSV_HEADER = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
REWARD_CSV_HEADER = (
    "step,train_reward_mean,valid_reward_mean,train_reasoning_tokens_mean,"
    "valid_reasoning_tokens_mean"
)


@dataclass(frozen=True)
class RewardMetrics:
    """One step of reinforcement training: the grader's mean reward on the step's training
    samples, and on the validation samples at each `eval_interval` (None between evals)."""

    step: int
    train_reward: float
    train_reasoning_tokens: float
    valid_reward: float | None
    valid_reasoning_tokens: float | None

    def data(self, total_steps: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "step": self.step,
            "train_reward_mean": self.train_reward,
            "train_reasoning_tokens_mean": self.train_reasoning_tokens,
            "total_steps": total_steps,
        }
        if self.valid_reward is not None:
            out["valid_reward_mean"] = self.valid_reward
            out["valid_reasoning_tokens_mean"] = self.valid_reasoning_tokens
        return out

    def message(self, total_steps: int) -> str:
        text = f"Step {self.step}/{total_steps}: training reward={self.train_reward:.2f}"
        if self.valid_reward is not None:
            text += f", validation reward={self.valid_reward:.2f}"
        return text

    def checkpoint_metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step, "train_reward_mean": self.train_reward}
        if self.valid_reward is not None:
            out["valid_reward_mean"] = self.valid_reward
        return out

    def csv_row(self) -> str:
        def cell(value: float | None) -> str:
            return "" if value is None else str(value)

        return (
            f"{self.step},{self.train_reward},{cell(self.valid_reward)},"
            f"{self.train_reasoning_tokens},{cell(self.valid_reasoning_tokens)}"
        )


@dataclass(frozen=True)
class Plan:
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    beta: float | None
    steps_per_epoch: int
    total_steps: int
    trained_tokens: int
    # Each step's metrics as a plain tuple of numbers (the fields of StepMetrics, or of
    # RewardMetrics for reinforcement): Python's collector stops tracking such tuples, so the
    # mock's full GC walks do not grow with the jobs stored (objects would add 90 a job).
    metric_rows: tuple[tuple[Any, ...], ...]
    method: str = "supervised"
    # reinforcement: the resolved method hyperparameters beyond the common three
    extra: tuple[tuple[str, Any], ...] = ()
    # reinforcement: what the tune learned to answer, (prompt, the answer the grader rewards)
    learned: tuple[tuple[str, str], ...] | None = None

    @property
    def metrics(self) -> tuple[StepMetrics | RewardMetrics, ...]:
        return tuple(self.metric(step) for step in range(1, len(self.metric_rows) + 1))

    def metric(self, step: int) -> StepMetrics | RewardMetrics:
        """The metrics of one step (1-based)."""
        row = self.metric_rows[step - 1]
        return RewardMetrics(*row) if self.method == "reinforcement" else StepMetrics(*row)

    @property
    def checkpoint_steps(self) -> list[int]:
        if self.method == "reinforcement":
            # A reinforcement job keeps a checkpoint at every evaluation.
            interval = dict(self.extra).get("eval_interval", self.total_steps)
            steps = list(range(interval, self.total_steps + 1, interval))
            return steps if steps and steps[-1] == self.total_steps else [*steps, self.total_steps]
        return [self.steps_per_epoch * e for e in range(1, self.n_epochs + 1)]

    def hyperparameters(self) -> dict[str, Any]:
        """The resolved values the job object shows once its files are validated."""
        out: dict[str, Any] = {
            "batch_size": self.batch_size,
            "learning_rate_multiplier": self.learning_rate_multiplier,
            "n_epochs": self.n_epochs,
        }
        if self.method == "dpo":
            out["beta"] = self.beta
        return out | dict(self.extra)


def _steps(examples: int, n_epochs: int | None, batch_size: int | None) -> tuple[int, int, int]:
    epochs = n_epochs or default_epochs(examples)
    batch = batch_size or auto_batch_size(examples)
    per_epoch = math.ceil(examples / batch)
    return epochs, batch, per_epoch


def make_plan(
    train: Dataset,
    *,
    seed: int,
    has_validation: bool,
    n_epochs: int | None,
    batch_size: int | None,
    learning_rate_multiplier: float | None,
    beta: float | None,
    method: str = "supervised",
) -> Plan:
    """Resolve `auto` hyperparameters and lay out every step's metrics (supervised and DPO).

    A supervised loss starts near 2-3 nats per token and decays towards a floor; a DPO loss
    starts at ln 2 (the policy equals the reference: no preference yet) and its accuracy, the
    share of pairs where the preferred answer wins, climbs from 0.5. A higher `beta` keeps the
    policy closer to the reference, so its loss falls more slowly."""
    epochs, batch, steps_per_epoch = _steps(train.examples, n_epochs, batch_size)
    lr = learning_rate_multiplier if learning_rate_multiplier is not None else 2
    total = steps_per_epoch * epochs
    rng = random.Random(seed)
    dpo = method == "dpo"
    if dpo:
        start = math.log(2) * rng.uniform(0.98, 1.02)
        floor = rng.uniform(0.05, 0.2)
        rate = rng.uniform(2.5, 3.5) * min(2.0, max(0.5, float(lr) / 2)) / (1 + 2 * (beta or 0.1))
    else:
        start = rng.uniform(2.2, 3.4)
        floor = rng.uniform(0.02, 0.12)
        rate = rng.uniform(3.0, 4.5) * min(2.0, max(0.5, float(lr) / 2))
    gap = rng.uniform(0.03, 0.15)

    def accuracy_of(loss: float) -> float:
        if dpo:
            return min(1.0, max(0.0, 0.5 + 0.5 * (1 - loss / math.log(2))))
        return min(1.0, max(0.0, 1.0 - loss / (start * 1.15)))

    rows: list[tuple[int, float, float, float | None, float | None]] = []
    for step in range(1, total + 1):
        progress = step / total
        noise = 1 + rng.uniform(-0.12, 0.12) * (1 - 0.5 * progress)
        loss = max(0.001, (floor + (start - floor) * math.exp(-rate * progress)) * noise)
        valid_loss = valid_acc = None
        if has_validation:
            valid_loss = loss * (1 + gap) + rng.uniform(0, 0.02)
            valid_acc = round(accuracy_of(valid_loss), 4)
            valid_loss = round(valid_loss, 4)
        rows.append((step, round(loss, 4), round(accuracy_of(loss), 4), valid_loss, valid_acc))
    return Plan(
        n_epochs=epochs,
        batch_size=batch,
        learning_rate_multiplier=lr,
        beta=beta,
        steps_per_epoch=steps_per_epoch,
        total_steps=total,
        trained_tokens=train.tokens * epochs,
        metric_rows=tuple(rows),
        method=method,
    )


# -- reinforcement ---------------------------------------------------------------------------

Grade = Callable[[Mapping[str, Any], Mapping[str, Any], str], float]

REASONING_TOKENS = {"low": 350.0, "medium": 1100.0, "high": 2900.0}
_CANDIDATES = 4  # item values tried as answers, per item
# Grader runs per dataset: a python grader starts a sandboxed process per run, so it gets few;
# items past the budget take the scores of an item that was graded, and its choice of field.
_GRADE_BUDGET = 256
_PYTHON_GRADE_BUDGET = 12


@dataclass(frozen=True)
class Scored:
    """One item: what the base model says and scores, and the best answer a policy can learn."""

    prompt: str
    base_answer: str
    base_reward: float
    best_answer: str
    best_reward: float
    best_key: str | None  # the item field whose value scored best; None: the base answer


def base_answer(prompt: str) -> str:
    # The base model's first sentence: what o4-mini "says" before any reinforcement.
    from ftctl.mock.completions import base_text

    return next(base_text(prompt)).strip()


def _item_values(item: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in item.items():
        if isinstance(value, str) and value.strip():
            out.append((key, value))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out.append((key, str(value)))
        if len(out) == _CANDIDATES:
            break
    return out


def _runs_python(grader: Mapping[str, Any]) -> bool:
    if grader.get("type") == "python":
        return True
    subs = grader.get("graders")
    values = subs.values() if isinstance(subs, dict) else subs if isinstance(subs, list) else []
    return any(isinstance(g, Mapping) and _runs_python(g) for g in values)


def score_items(
    grader: Mapping[str, Any],
    prompts: Sequence[str],
    items: Sequence[Mapping[str, Any]],
    grade: Grade,
) -> list[Scored]:
    """Run the grader on the base model's answer and on each answer a policy could learn (the
    item's own values: a reference answer, a label), keeping the best. A grader that rewards
    what the data holds lets training climb; one that cannot be satisfied keeps rewards flat."""
    budget = _PYTHON_GRADE_BUDGET if _runs_python(grader) else _GRADE_BUDGET
    scored: list[Scored] = []
    graded = 0
    for index, (prompt, item) in enumerate(zip(prompts, items, strict=True)):
        candidates = _item_values(item)
        base = base_answer(prompt)
        if scored and graded + 1 + len(candidates) > budget:
            twin = scored[index % len(scored)]
            best = item.get(twin.best_key) if twin.best_key is not None else None
            answer = str(best) if best is not None else base
            scored.append(
                Scored(prompt, base, twin.base_reward, answer, twin.best_reward, twin.best_key)
            )
            continue
        base_reward = grade(grader, item, base)
        graded += 1
        best_answer, best_reward, best_key = base, base_reward, None
        for key, candidate in candidates:
            if best_reward >= 1.0:
                break  # nothing scores better than a full reward
            reward = grade(grader, item, candidate)
            graded += 1
            if reward > best_reward:
                best_answer, best_reward, best_key = candidate, reward, key
        scored.append(Scored(prompt, base, base_reward, best_answer, best_reward, best_key))
    return scored


def _unit(*parts: object) -> float:
    raw = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(raw[:8], "big") / 2**64


def make_reinforcement_plan(
    train: Dataset,
    valid: Dataset | None,
    *,
    grader: Mapping[str, Any],
    grade: Grade,
    seed: int,
    hyperparameters: Mapping[str, Any],
) -> Plan:
    """Lay out a reinforcement job: at each step the policy answers the step's batch of
    training items, the job's grader scores the answers, and the mean is the step's reward.

    The policy is the mock's own model: an item is answered with its best-scoring answer once
    the policy has learned it (a seeded share of items that grows with progress, faster with a
    higher learning rate and compute multiplier), else with the base model's answer. So rewards
    start where the base model scores and rise towards what the grader and data allow."""
    given = {k: v for k, v in hyperparameters.items() if v != "auto"}
    epochs, batch, steps_per_epoch = _steps(
        train.examples, given.get("n_epochs"), given.get("batch_size")
    )
    lr = float(given.get("learning_rate_multiplier", 1.0))
    compute = float(given.get("compute_multiplier", 1.0))
    total = steps_per_epoch * epochs
    interval = int(given.get("eval_interval", max(1, total // 10)))
    effort = str(given.get("reasoning_effort", "default"))
    effort = "medium" if effort == "default" else effort
    samples = int(given.get("eval_samples", 1))

    graded: dict[tuple[str, str], float] = {}

    def once(grader: Mapping[str, Any], item: Mapping[str, Any], sample: str) -> float:
        # A validation file is often the training file: each (item, answer) is graded once.
        key = (json.dumps(item, sort_keys=True, default=str), sample)
        if key not in graded:
            graded[key] = grade(grader, item, sample)
        return graded[key]

    prompts = [prompt for prompt, _ in train.pairs]
    scored = score_items(grader, prompts, train.items, once)
    valid_scored = None
    if valid is not None:
        valid_scored = score_items(grader, [p for p, _ in valid.pairs], valid.items, once)
    rng = random.Random(seed)
    rate = 3.0 * min(3.0, max(0.25, lr * math.sqrt(compute)))

    def learned_share(progress: float) -> float:
        return (1 - math.exp(-rate * progress)) / (1 - math.exp(-rate))

    def reward(item: Scored, index: int, share: float, where: str) -> float:
        learned = _unit(seed, where, index) < share
        return item.best_reward if learned else item.base_reward

    def tokens(progress: float) -> float:
        # Reasoning shortens a little as the policy settles on what it is rewarded for.
        return round(REASONING_TOKENS[effort] * (1 - 0.25 * progress) * rng.uniform(0.9, 1.1), 1)

    rows: list[tuple[int, float, float, float | None, float | None]] = []
    for step in range(1, total + 1):
        progress = step / total
        share = learned_share(progress)
        batch_at = [((step - 1) * batch + j) % len(scored) for j in range(batch)]
        rewards = [reward(scored[i], i, share, "train") for i in batch_at]
        spread = sum(abs(scored[i].best_reward - scored[i].base_reward) for i in batch_at)
        noise = rng.uniform(-0.04, 0.04) * spread / len(batch_at)  # none when nothing can move
        # Noise never carries the mean past what the batch's answers can score.
        low = min(min(scored[i].base_reward, scored[i].best_reward) for i in batch_at)
        high = max(max(scored[i].base_reward, scored[i].best_reward) for i in batch_at)
        train_reward = round(min(high, max(low, sum(rewards) / len(rewards) + noise)), 4)
        valid_reward = valid_tokens = None
        if valid_scored is not None and (step % interval == 0 or step == total):
            # eval_samples answers per validation item: their mean, as the service reports.
            runs = [
                reward(item, i * samples + k, share, "valid")
                for i, item in enumerate(valid_scored)
                for k in range(samples)
            ]
            valid_reward = round(sum(runs) / len(runs), 4)
            valid_tokens = tokens(progress)
        rows.append((step, train_reward, tokens(progress), valid_reward, valid_tokens))
    extra = {
        "eval_interval": interval,
        "eval_samples": samples,
        "compute_multiplier": compute,
        "reasoning_effort": effort,
    }
    return Plan(
        n_epochs=epochs,
        batch_size=batch,
        learning_rate_multiplier=lr,
        beta=None,
        steps_per_epoch=steps_per_epoch,
        total_steps=total,
        trained_tokens=train.tokens * epochs,
        metric_rows=tuple(rows),
        method="reinforcement",
        extra=tuple(extra.items()),
        learned=tuple((s.prompt, s.best_answer) for s in scored),
    )


def results_csv(plan: Plan) -> bytes:
    """The result file: one row per step, with the columns of the job's method."""
    header = REWARD_CSV_HEADER if plan.method == "reinforcement" else LOSS_CSV_HEADER
    lines = [header, *(m.csv_row() for m in plan.metrics)]
    return ("\n".join(lines) + "\n").encode()


def method_view(
    method: str,
    requested: Mapping[str, Any],
    plan: Plan | None,
    *,
    resolved: bool,
    grader: Mapping[str, Any] | None = None,
    response_format: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The job object's `method`: as requested until the files are validated, then resolved."""
    hyperparameters = plan.hyperparameters() if plan is not None and resolved else dict(requested)
    section: dict[str, Any] = {"hyperparameters": hyperparameters}
    if method == "reinforcement":
        section["grader"] = dict(grader or {})
        section["response_format"] = dict(response_format) if response_format else None
    return {"type": method, method: section}
