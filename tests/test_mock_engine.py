"""The mock's pure parts: the epoch heuristic, the training plan, determinism, the answer engine."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import openai
import pytest

from ftctl.mock.completions import closest, generate, learned_text
from ftctl.mock.http import FormReader
from ftctl.mock.training import Dataset, auto_batch_size, make_plan, results_csv
from ftctl.models import default_epochs as auto_epochs
from ftctl.tokens import encoding_for_model
from tests.support.mock_server import FakeClock, running_mock


@pytest.mark.parametrize(
    ("examples", "epochs"),
    [(10, 10), (20, 5), (30, 3), (33, 3), (34, 3), (1000, 3), (8333, 3), (8334, 2), (30000, 1)],
)
def test_auto_epochs_follow_the_cookbook(examples: int, epochs: int) -> None:
    assert auto_epochs(examples) == epochs


def test_auto_epochs_stay_within_1_to_25() -> None:
    assert auto_epochs(1) == 25
    assert auto_epochs(10**7) == 1


def test_plan_resolves_auto_and_counts_steps() -> None:
    data = Dataset(examples=1001, tokens=50_000, pairs=())
    plan = make_plan(
        data,
        seed=1,
        has_validation=False,
        n_epochs=None,
        batch_size=None,
        learning_rate_multiplier=None,
        beta=None,
    )
    assert auto_batch_size(1001) == 3
    assert (plan.n_epochs, plan.batch_size, plan.steps_per_epoch) == (3, 3, 334)
    assert plan.total_steps == 1002 and len(plan.metrics) == 1002
    assert plan.checkpoint_steps == [334, 668, 1002]
    assert plan.trained_tokens == 150_000
    given = make_plan(
        data,
        seed=1,
        has_validation=True,
        n_epochs=2,
        batch_size=100,
        learning_rate_multiplier=0.5,
        beta=None,
    )
    assert (given.total_steps, given.learning_rate_multiplier) == (22, 0.5)
    assert all(m.valid_loss is not None for m in given.metrics)
    csv = results_csv(given).decode().splitlines()
    assert len(csv) == 23 and all(len(row.split(",")) == 5 for row in csv)


def test_a_plans_metrics_leave_the_collectors_walks_alone() -> None:
    # Thousands of stored jobs must not lengthen the mock's full GC walks: once the collector has
    # seen them, a plan's per-step metrics (plain tuples of numbers) are no longer tracked.
    import gc

    data = Dataset(examples=300, tokens=9_000, pairs=())
    plan = make_plan(
        data,
        seed=3,
        has_validation=True,
        n_epochs=3,
        batch_size=None,
        learning_rate_multiplier=None,
        beta=None,
    )
    gc.collect()
    assert len(plan.metric_rows) == plan.total_steps > 100
    assert not any(gc.is_tracked(row) for row in plan.metric_rows)
    assert plan.metric(plan.total_steps) == plan.metrics[-1]


def test_same_seed_same_story_different_seed_different_losses() -> None:
    data = b'{"prompt": "p ->", "completion": " c"}\n' * 12

    def run(seed: int) -> tuple[list[str], list[float]]:
        clock = FakeClock()
        with running_mock(speed=1.0, seed=seed, clock=clock) as url:
            c = openai.OpenAI(base_url=url, api_key="k", http_client=httpx.Client())  # type: ignore[arg-type]
            file_id = c.files.create(file=("d.jsonl", io.BytesIO(data)), purpose="fine-tune").id
            job = c.fine_tuning.jobs.create(training_file=file_id, model="davinci-002")
            clock.advance(100)
            done = c.fine_tuning.jobs.retrieve(job.id)
            events = c.fine_tuning.jobs.list_events(job.id, limit=1000).data
            losses = [float(e.data["train_loss"]) for e in events if e.type == "metrics"]  # type: ignore[index]
            ids = [file_id, job.id, str(done.fine_tuned_model), *done.result_files]
            return ids + [e.id for e in events], losses

    first, second, other = run(5), run(5), run(6)
    assert first == second
    assert first[0][:2] != other[0][:2] and first[1] != other[1]


PAIRS = (
    ("The Adventure Begins ->", " A thrilling tale of courage and discovery."),
    ("Secrets Unveiled ->", " An intriguing mystery that will keep you guessing until the end."),
    ("Beyond the Stars ->", " An epic science fiction adventure."),
)


def test_closest_prompt_exact_first_then_words() -> None:
    assert closest(PAIRS, "Secrets Unveiled ->") == 1
    assert closest(PAIRS, "  Secrets Unveiled ->  ") == 1
    assert closest(PAIRS, "stars beyond") == 2
    assert closest(PAIRS, "zzz") == closest(PAIRS, "zzz")  # no overlap: still deterministic


def test_generate_honours_max_tokens_and_stop() -> None:
    enc = encoding_for_model("davinci-002")
    run_on = generate(
        learned_text(PAIRS, "Secrets Unveiled ->"),
        enc=enc,
        max_tokens=20,
        stop=[],
        natural_pieces=None,
    )
    assert run_on.finish_reason == "length" and len(run_on.tokens) == 20
    assert run_on.text.startswith(PAIRS[1][1])
    stopped = generate(
        learned_text(PAIRS, "Secrets Unveiled ->"),
        enc=enc,
        max_tokens=20,
        stop=["guessing", "."],
        natural_pieces=None,
    )
    assert (stopped.text, stopped.finish_reason) == (
        " An intriguing mystery that will keep you ",
        "stop",
    )
    turn = generate(learned_text(PAIRS, "x"), enc=enc, max_tokens=None, stop=[], natural_pieces=1)
    assert turn.finish_reason == "stop" and turn.text in {p[1] for p in PAIRS}
    beyond = generate(
        learned_text(PAIRS, "Secrets Unveiled ->"),
        enc=enc,
        max_tokens=500,
        stop=[],
        natural_pieces=None,
    )
    assert len(beyond.tokens) == 500  # keeps going past the training text, cycling through it


def parse_multipart(
    content_type: str, body: bytes, spool_dir: Path
) -> dict[str, tuple[str | None, bytes]]:
    """form field name -> (filename or None, bytes), through the mock's streaming form reader."""
    spooled = iter(spool_dir / f"part-{n}" for n in range(100))
    reader = FormReader(content_type, lambda: next(spooled), len(body) + 1, "file")
    reader.write(body)
    return {name: (f.filename, f.read()) for name, f in reader.finish().items()}


def test_multipart_parser_reads_what_httpx_sends(tmp_path: Path) -> None:
    request = httpx.Request(
        "POST",
        "http://x/",
        files={"file": ("a b.jsonl", b"line\r\n\r\nmore\r\n")},
        data={"purpose": "fine-tune"},
    )
    body = request.read()
    fields = parse_multipart(request.headers["content-type"], body, tmp_path)
    assert fields["file"] == ("a b.jsonl", b"line\r\n\r\nmore\r\n")
    assert fields["purpose"] == (None, b"fine-tune")
    assert json.dumps(sorted(fields)) == '["file", "purpose"]'
