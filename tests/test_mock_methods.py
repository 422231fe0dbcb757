"""What DPO and reinforcement jobs "train" on the mock: method-shaped metrics, result files and
checkpoint metrics, and reinforcement rewards that come from running the grader on the mock
model's own answers, so a grader/data pair that can be satisfied visibly scores higher."""

from __future__ import annotations

import io
import json
import math
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import openai
import pytest

from ftctl.mock.training import (
    REWARD_CSV_HEADER,
    Dataset,
    RewardMetrics,
    StepMetrics,
    make_plan,
    make_reinforcement_plan,
    results_csv,
)
from tests.support.mock_server import FakeClock, running_mock

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
AUTH = {"Authorization": "Bearer sk-test"}


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


# -- end to end, through the SDK on loopback -------------------------------------------------

RFT_ROWS = [
    {
        "messages": [{"role": "user", "content": f"What is the capital of country {i}?"}],
        "answer": f"Capital {i}",
        "region": "north" if i % 2 else "south",
    }
    for i in range(12)
]
DPO_ROWS = [
    {
        "input": {"messages": [{"role": "user", "content": f"Say hello number {i}"}]},
        "preferred_output": [{"role": "assistant", "content": f"Hello there, friend {i}!"}],
        "non_preferred_output": [{"role": "assistant", "content": f"hi {i}"}],
    }
    for i in range(10)
]


def _upload(client: Any, rows: list[dict[str, Any]], name: str) -> str:
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    return str(client.files.create(file=(name, io.BytesIO(data)), purpose="fine-tune").id)


@pytest.fixture
def sdk() -> Iterator[tuple[Any, FakeClock]]:
    clock = FakeClock()
    with running_mock(speed=1.0, clock=clock) as url:
        yield (
            openai.OpenAI(
                base_url=url, api_key="sk-test", max_retries=0, http_client=httpx.Client()
            ),
            clock,
        )


def _reinforcement(grader: dict[str, Any], **hp: Any) -> dict[str, Any]:
    return {"type": "reinforcement", "reinforcement": {"grader": grader, "hyperparameters": hp}}


def test_a_reinforcement_job_rewards_what_its_grader_rewards(sdk: tuple[Any, FakeClock]) -> None:
    client, clock = sdk
    train = _upload(client, RFT_ROWS, "rft.jsonl")
    grader = {**MATCH, "name": "capital"}
    job = client.fine_tuning.jobs.create(
        training_file=train,
        validation_file=train,
        model="o4-mini",
        method=_reinforcement(grader, reasoning_effort="low", eval_interval=4, n_epochs=2),
    )
    requested = job.method.reinforcement
    assert requested.grader.name == "capital" and requested.hyperparameters.eval_samples == "auto"
    assert requested.hyperparameters.reasoning_effort == "low"
    unsatisfiable = client.fine_tuning.jobs.create(
        training_file=train,
        model="o4-mini-2025-04-16",
        method=_reinforcement({**IMPOSSIBLE, "name": "never"}, n_epochs=2),
    )
    clock.advance(300)
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded" and done.fine_tuned_model
    resolved = done.method.reinforcement.hyperparameters
    assert (resolved.eval_interval, resolved.eval_samples, resolved.compute_multiplier) == (
        4,
        1,
        1.0,
    )
    assert resolved.reasoning_effort == "low" and resolved.n_epochs == 2

    def rewards(job_id: str) -> list[dict[str, Any]]:
        events = client.fine_tuning.jobs.list_events(job_id, limit=1000).data
        return [dict(e.data) for e in reversed(events) if e.type == "metrics"]

    good, flat = rewards(job.id), rewards(unsatisfiable.id)
    assert len(good) == 24 and good[0]["step"] == 1
    assert good[-1]["train_reward_mean"] > good[0]["train_reward_mean"]
    assert good[-1]["valid_reward_mean"] > 0.9
    assert [m["step"] for m in good if "valid_reward_mean" in m] == [4, 8, 12, 16, 20, 24]
    assert max(m["train_reward_mean"] for m in flat) == 0.0
    assert all(0 <= m["train_reward_mean"] <= 1 for m in good)  # string_check scores 0 or 1
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [24, 20, 16]
    assert set(checkpoints[0].metrics.to_dict()) == {
        "step",
        "train_reward_mean",
        "valid_reward_mean",
    }
    csv = client.files.content(done.result_files[0]).text.splitlines()
    assert csv[0] == REWARD_CSV_HEADER and len(csv) == 25
    # The tune answers with what its grader rewarded.
    answer = client.chat.completions.create(
        model=done.fine_tuned_model,
        messages=[{"role": "user", "content": "What is the capital of country 7?"}],
    )
    assert answer.choices[0].message.content == "Capital 7"


def test_other_requests_are_answered_while_a_python_grader_job_is_planned() -> None:
    # Planning runs the grader on the mock model's answers, a sandboxed process per batch: the
    # create answers after those runs, and meanwhile the server answers everyone else.
    slow = {
        "type": "python",
        "name": "slow",
        "source": "import time\ndef grade(sample, item):\n    time.sleep(0.1)\n    return 1.0\n",
    }
    apps: list[Any] = []
    finished: list[str] = []
    with running_mock(app_out=apps) as url, httpx.Client(base_url=url, headers=AUTH) as http:
        train = http.post(
            "/files",
            files={"file": ("rft.jsonl", "".join(json.dumps(r) + "\n" for r in RFT_ROWS))},
            data={"purpose": "fine-tune"},
        ).json()["id"]
        body = {"training_file": train, "model": "o4-mini", "method": _reinforcement(slow)}

        def create() -> None:
            r = http.post("/fine_tuning/jobs", json=body, timeout=120)
            finished.append(f"create {r.status_code}")

        creating = threading.Thread(target=create)
        creating.start()
        store = apps[0].state.store
        while not store.planning and creating.is_alive():
            time.sleep(0.005)
        assert store.planning == 1, "the create ended before it could be watched"
        assert http.get("/models", timeout=120).status_code == 200
        finished.append("models")
        creating.join(120)
        listed = http.get("/fine_tuning/jobs").json()["data"]
    assert finished == ["models", "create 200"]
    assert store.planning == 0
    assert [j["method"]["reinforcement"]["grader"]["name"] for j in listed] == ["slow"]


def test_reinforcement_requests_are_checked_like_the_service(sdk: tuple[Any, FakeClock]) -> None:
    client, _ = sdk
    train = _upload(client, RFT_ROWS, "rft.jsonl")

    def refused(model: str, method: dict[str, Any]) -> str | None:
        with pytest.raises(openai.BadRequestError) as caught:
            client.fine_tuning.jobs.create(training_file=train, model=model, method=method)
        return caught.value.param

    where = "method.reinforcement.hyperparameters"
    assert refused("gpt-4.1-mini", _reinforcement(MATCH)) == "method.type"
    assert refused("o4-mini", {"type": "reinforcement"}) == "method.reinforcement.grader"
    assert refused("o4-mini", _reinforcement({"type": "string_check"})).startswith(  # type: ignore[union-attr]
        "method.reinforcement.grader"
    )
    assert refused("o4-mini", _reinforcement(MATCH, compute_multiplier=11)) == (
        f"{where}.compute_multiplier"
    )
    assert refused("o4-mini", _reinforcement(MATCH, reasoning_effort="extreme")) == (
        f"{where}.reasoning_effort"
    )
    assert refused("o4-mini", _reinforcement(MATCH, eval_interval=0)) == f"{where}.eval_interval"
    assert refused("o4-mini", _reinforcement(MATCH, beta=0.1)) == f"{where}.beta"
    assert refused("gpt-4.1-mini", {"type": "dpo", "dpo": {"hyperparameters": {"beta": 3}}}) == (
        "method.dpo.hyperparameters.beta"
    )


def test_a_dpo_job_trains_on_preferences_and_answers_the_preferred(
    sdk: tuple[Any, FakeClock],
) -> None:
    client, clock = sdk
    train = _upload(client, DPO_ROWS, "prefs.jsonl")
    job = client.fine_tuning.jobs.create(
        training_file=train,
        model="gpt-4.1-mini",
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2, "n_epochs": 3}}},
    )
    assert job.method.dpo.hyperparameters.beta == 0.2
    assert job.method.dpo.hyperparameters.batch_size == "auto"
    clock.advance(300)
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded" and done.fine_tuned_model
    assert done.method.dpo.hyperparameters.batch_size == 1
    assert done.hyperparameters.n_epochs == 3
    events = client.fine_tuning.jobs.list_events(job.id, limit=1000).data
    steps = [dict(e.data) for e in reversed(events) if e.type == "metrics"]
    assert abs(steps[0]["train_loss"] - math.log(2)) < 0.15
    assert steps[-1]["train_mean_token_accuracy"] > steps[0]["train_mean_token_accuracy"]
    answer = client.chat.completions.create(
        model=done.fine_tuned_model, messages=[{"role": "user", "content": "Say hello number 4"}]
    )
    assert answer.choices[0].message.content == "Hello there, friend 4!"


def test_grader_runs_are_bounded_and_later_items_learn_the_same_field() -> None:
    calls: list[str] = []

    def counting(grader: Mapping[str, Any], item: Mapping[str, Any], sample: str) -> float:
        calls.append(sample)
        return exact(MATCH, item, sample)

    python_grader = {"type": "python", "name": "p", "source": "def grade(s, i): return 0"}
    plan = make_reinforcement_plan(
        RFT, RFT, grader=python_grader, grade=counting, seed=6, hyperparameters={}
    )
    assert len(calls) <= 12  # a sandboxed process per run: the python budget
    assert plan.learned is not None
    # Items past the budget answer with the field that scored best on the graded ones.
    assert dict(plan.learned)["Which city is number 19?"] == "city 19"
    cheap: list[str] = []
    make_reinforcement_plan(
        RFT,
        RFT,
        grader=MATCH,
        grade=lambda g, i, s: cheap.append(s) or exact(g, i, s),
        seed=6,
        hyperparameters={},
    )
    assert len(cheap) == 40  # each item: base answer, then its answer field; validation reused
