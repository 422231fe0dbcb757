"""What DPO and reinforcement jobs "train" on the mock: method-shaped metrics, result files and
checkpoint metrics, and reinforcement rewards that come from running the grader on the mock
model's own answers, so a grader/data pair that can be satisfied visibly scores higher."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ftctl.mock.training import (
    REWARD_CSV_HEADER,
    Dataset,
    RewardMetrics,
    StepMetrics,
    make_plan,
    make_reinforcement_plan,
    results_csv,
)

ITEMS = tuple({"answer": f"city {i}", "topic": "geography"} for i in range(20))
RFT = Dataset(
    examples=20,
    tokens=400,
    pairs=tuple((f"Which city is number {i}?", "") for i in range(20)),
    items=ITEMS,
)
MATCH = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}
IMPOSSIBLE = {**MATCH, "reference": "{{item.answer}} and more"}


def exact(grader: Mapping[str, Any], item: Mapping[str, Any], sample: str) -> float:
    """A string_check `eq` on `item.answer` (the engine's own tests cover the engine)."""
    wanted = item["answer"] + (" and more" if "more" in grader["reference"] else "")
    return 1.0 if sample == wanted else 0.0


def _rewards(plan_metrics: tuple[StepMetrics | RewardMetrics, ...]) -> list[RewardMetrics]:
    out = [m for m in plan_metrics if isinstance(m, RewardMetrics)]
    assert len(out) == len(plan_metrics)
    return out


def test_a_satisfiable_grader_climbs_and_an_impossible_one_stays_flat() -> None:
    hp = {"n_epochs": 3, "batch_size": 4, "eval_interval": 5}
    good = make_reinforcement_plan(RFT, RFT, grader=MATCH, grade=exact, seed=1, hyperparameters=hp)
    bad = make_reinforcement_plan(
        RFT, RFT, grader=IMPOSSIBLE, grade=exact, seed=1, hyperparameters=hp
    )
    rising, flat = _rewards(good.metrics), _rewards(bad.metrics)
    assert len(rising) == good.total_steps == 15
    assert rising[0].train_reward < 0.5 < rising[-1].train_reward
    assert rising[-1].valid_reward is not None and rising[-1].valid_reward > 0.9
    assert all(m.train_reward == 0.0 for m in flat)
    # Evaluations run every eval_interval steps and at the end, nowhere else.
    assert [m.step for m in rising if m.valid_reward is not None] == [5, 10, 15]
    assert good.checkpoint_steps == [5, 10, 15]
    # The tune learned to answer what the grader rewards.
    assert good.learned is not None
    assert dict(good.learned)["Which city is number 3?"] == "city 3"
    assert bad.learned is not None and "city 3" not in dict(bad.learned).values()


def test_reinforcement_hyperparameters_resolve_like_the_service() -> None:
    plan = make_reinforcement_plan(
        RFT, None, grader=MATCH, grade=exact, seed=2, hyperparameters={"reasoning_effort": "high"}
    )
    resolved = plan.hyperparameters()
    assert resolved == {
        "batch_size": 1,
        "learning_rate_multiplier": 1.0,
        "n_epochs": plan.n_epochs,
        "eval_interval": max(1, plan.total_steps // 10),
        "eval_samples": 1,
        "compute_multiplier": 1.0,
        "reasoning_effort": "high",
    }
    low = make_reinforcement_plan(
        RFT, None, grader=MATCH, grade=exact, seed=2, hyperparameters={"reasoning_effort": "low"}
    )
    high_tokens = sum(m.train_reasoning_tokens for m in _rewards(plan.metrics))
    low_tokens = sum(m.train_reasoning_tokens for m in _rewards(low.metrics))
    assert high_tokens > 3 * low_tokens
    assert all(m.valid_reward is None for m in _rewards(plan.metrics))  # no validation file
    # More compute explores faster: the reward climbs sooner.
    slow = make_reinforcement_plan(
        RFT, None, grader=MATCH, grade=exact, seed=3, hyperparameters={"compute_multiplier": 0.1}
    )
    fast = make_reinforcement_plan(
        RFT, None, grader=MATCH, grade=exact, seed=3, hyperparameters={"compute_multiplier": 4}
    )
    half = slow.total_steps // 2
    assert sum(m.train_reward for m in _rewards(fast.metrics)[:half]) > sum(
        m.train_reward for m in _rewards(slow.metrics)[:half]
    )


def test_reward_metrics_in_events_checkpoints_and_the_result_file() -> None:
    plan = make_reinforcement_plan(
        RFT, RFT, grader=MATCH, grade=exact, seed=4, hyperparameters={"eval_interval": 2}
    )
    second = plan.metrics[1]
    assert isinstance(second, RewardMetrics)
    data = second.data(plan.total_steps)
    assert set(data) == {
        "step",
        "train_reward_mean",
        "train_reasoning_tokens_mean",
        "valid_reward_mean",
        "valid_reasoning_tokens_mean",
        "total_steps",
    }
    assert second.message(plan.total_steps).startswith(
        f"Step 2/{plan.total_steps}: training reward="
    )
    assert set(second.checkpoint_metrics()) == {"step", "train_reward_mean", "valid_reward_mean"}
    csv = results_csv(plan).decode().splitlines()
    assert csv[0] == REWARD_CSV_HEADER
    assert len(csv) == plan.total_steps + 1
    assert csv[1].split(",")[2] == ""  # no evaluation at step 1


def test_dpo_loss_starts_at_ln2_and_accuracy_from_a_coin_flip() -> None:
    pairs = Dataset(examples=12, tokens=600, pairs=tuple((f"q{i}", f"a{i}") for i in range(12)))
    plan = make_plan(
        pairs,
        seed=5,
        has_validation=True,
        n_epochs=4,
        batch_size=1,
        learning_rate_multiplier=None,
        beta=0.1,
        method="dpo",
    )
    steps = [m for m in plan.metrics if isinstance(m, StepMetrics)]
    assert abs(steps[0].train_loss - math.log(2)) < 0.1
    assert 0.45 <= steps[0].train_accuracy <= 0.6
    assert steps[-1].train_loss < steps[0].train_loss / 2
    assert steps[-1].train_accuracy > 0.75
    assert plan.hyperparameters()["beta"] == 0.1
    stiff = make_plan(
        pairs,
        seed=5,
        has_validation=False,
        n_epochs=4,
        batch_size=1,
        learning_rate_multiplier=None,
        beta=2.0,
        method="dpo",
    )
    # A higher beta holds the policy nearer the reference: the loss falls more slowly.
    assert stiff.metrics[len(stiff.metrics) // 3].csv_row() != plan.metrics[0].csv_row()
    stiff_mid = stiff.metrics[len(stiff.metrics) // 3]
    loose_mid = plan.metrics[len(plan.metrics) // 3]
    assert isinstance(stiff_mid, StepMetrics) and isinstance(loose_mid, StepMetrics)
    assert stiff_mid.train_loss > loose_mid.train_loss
