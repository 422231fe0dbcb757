"""The official openai SDK (not ftctl) drives the mock through the whole fine-tuning lifecycle."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from ftctl.tokens import encoding_for_model
from tests.support.mock_server import FakeClock, running_mock

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "fixtures" / "book" / "train_data_prepared.jsonl"


def client(base_url: str, **kwargs: object) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=base_url,
        api_key="sk-mock-test",
        max_retries=0,
        timeout=10,
        http_client=httpx.Client(),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def book_pairs() -> list[dict[str, str]]:
    return [json.loads(line) for line in BOOK.read_text().splitlines()]


def upload(c: openai.OpenAI, data: bytes, name: str = "train.jsonl") -> str:
    return c.files.create(file=(name, io.BytesIO(data)), purpose="fine-tune").id


def wait(
    c: openai.OpenAI, job_id: str, timeout: float = 10.0
) -> openai.types.fine_tuning.FineTuningJob:
    deadline = time.monotonic() + timeout
    while True:
        job = c.fine_tuning.jobs.retrieve(job_id)
        if job.status in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"job still {job.status}"
        time.sleep(0.01)


def chat_rows(n: int) -> bytes:
    rows = [
        {
            "messages": [
                {"role": "system", "content": "You name capitals."},
                {"role": "user", "content": f"Capital of country {i}?"},
                {"role": "assistant", "content": f"City number {i}."},
            ]
        }
        for i in range(n)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.fixture(scope="module")
def book_run() -> Iterator[tuple[openai.OpenAI, openai.types.fine_tuning.FineTuningJob]]:
    """One finished davinci-002 job on the book's data, shared by the read-only tests below."""
    with running_mock(speed=2000, seed=3) as url:
        c = client(url)
        file_id = upload(c, BOOK.read_bytes(), "train_data_prepared.jsonl")
        job = c.fine_tuning.jobs.create(
            training_file=file_id, model="davinci-002", suffix="book", metadata={"run": "book"}
        )
        assert job.status == "validating_files"
        assert job.error is None and job.fine_tuned_model is None
        assert job.hyperparameters.n_epochs == "auto"
        yield c, wait(c, job.id)


def test_book_job_trains_like_the_service(book_run: tuple[openai.OpenAI, object]) -> None:
    c, job = book_run
    assert isinstance(job, openai.types.fine_tuning.FineTuningJob)
    assert job.status == "succeeded"
    # 30 examples: 3 epochs (cookbook heuristic), batch size 1, so 90 steps.
    assert (job.hyperparameters.n_epochs, job.hyperparameters.batch_size) == (3, 1)
    enc = encoding_for_model("davinci-002")
    per_epoch = sum(
        len(enc.encode_ordinary(p["prompt"])) + len(enc.encode_ordinary(p["completion"]))
        for p in book_pairs()
    )
    assert job.trained_tokens == 3 * per_epoch
    assert job.fine_tuned_model == f"ft:davinci-002:personal:book:{job.fine_tuned_model[-8:]}"
    assert job.user_provided_suffix == "book"  # type: ignore[attr-defined]
    assert job.finished_at is not None and job.finished_at >= job.created_at
    assert job.estimated_finish is None
    assert len(job.result_files) == 1

    events = c.fine_tuning.jobs.list_events(job.id, limit=1000).data
    assert events[0].message == "The job has successfully completed"
    assert events[-1].message == f"Created fine-tuning job: {job.id}"
    assert [e.created_at for e in events] == sorted((e.created_at for e in events), reverse=True)
    metrics = [e for e in events if e.type == "metrics"]
    assert len(metrics) == 90
    step12 = next(e for e in metrics if e.data["step"] == 12)  # type: ignore[index]
    assert step12.message.startswith("Step 12/90: training loss=")
    assert set(step12.data) == {  # type: ignore[arg-type]
        "step",
        "train_loss",
        "train_mean_token_accuracy",
        "total_steps",
    }
    losses = [e.data["train_loss"] for e in reversed(metrics)]  # type: ignore[index]
    assert sum(losses[:30]) / 30 > 2 * sum(losses[-30:]) / 30  # it learns

    ckpts = c.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [k.step_number for k in ckpts] == [90, 60, 30]
    assert ckpts[0].fine_tuned_model_checkpoint == f"{job.fine_tuned_model}:ckpt-step-90"
    early = c.completions.create(
        model=ckpts[-1].fine_tuned_model_checkpoint, prompt="Secrets Unveiled ->", stop="."
    )
    assert (
        early.choices[0].text == " An intriguing mystery that will keep you guessing until the end"
    )

    csv = c.files.content(job.result_files[0]).text.splitlines()
    assert csv[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert len(csv) == 91 and csv[12].startswith("12,")
    assert c.files.retrieve(job.result_files[0]).purpose == "fine-tune-results"


def test_events_page_newest_first(book_run: tuple[openai.OpenAI, object]) -> None:
    c, job = book_run
    assert isinstance(job, openai.types.fine_tuning.FineTuningJob)
    everything = [e.id for e in c.fine_tuning.jobs.list_events(job.id, limit=1000).data]
    first = c.fine_tuning.jobs.list_events(job.id, limit=7)
    assert first.has_more and [e.id for e in first.data] == everything[:7]
    paged = [e.id for e in c.fine_tuning.jobs.list_events(job.id, limit=7)]  # auto-paging
    assert paged == everything
    after = c.fine_tuning.jobs.list_events(job.id, after=everything[9], limit=3).data
    assert [e.id for e in after] == everything[10:13]


def test_tuned_model_answers_from_its_training(book_run: tuple[openai.OpenAI, object]) -> None:
    c, job = book_run
    assert isinstance(job, openai.types.fine_tuning.FineTuningJob)
    model = job.fine_tuned_model
    assert model is not None
    learned = " An intriguing mystery that will keep you guessing until the end."
    r = c.completions.create(model=model, prompt="Secrets Unveiled ->", max_tokens=30)
    text = r.choices[0].text
    assert text.startswith(learned) and len(text) > len(learned)  # keeps going, as in the book
    assert r.choices[0].finish_reason == "length"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (6, 30, 36)

    stopped = c.completions.create(
        model=model, prompt="Secrets Unveiled ->", max_tokens=30, stop=["."]
    )
    assert stopped.choices[0].text == learned[:-1]
    assert stopped.choices[0].finish_reason == "stop"

    # Not an exact prompt: the closest training prompt wins.
    near = c.completions.create(model=model, prompt="Secrets unveiled", max_tokens=12, stop="\n")
    assert near.choices[0].text.startswith(" An intriguing mystery")

    # Default max_tokens is 16, n is honoured, usage counts every choice.
    many = c.completions.create(model=model, prompt="Secrets Unveiled ->", n=3)
    assert len(many.choices) == 3 and {ch.index for ch in many.choices} == {0, 1, 2}
    assert many.usage is not None and many.usage.completion_tokens == 48

    stream = c.completions.create(
        model=model, prompt="Secrets Unveiled ->", max_tokens=30, stream=True
    )
    chunks = list(stream)
    assert "".join(ch.choices[0].text for ch in chunks if ch.choices) == text
    assert chunks[-1].choices[0].finish_reason == "length"
    assert len(chunks) == 31  # one chunk per token, then the finish


def test_models_list_retrieve_delete() -> None:
    with running_mock(speed=5000) as url:
        c = client(url)
        ids = {m.id for m in c.models.list()}
        for name in ("davinci-002", "babbage-002", "gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14"):
            assert name in ids
        assert "davinci" not in ids and "curie" not in ids
        with pytest.raises(openai.NotFoundError) as err:
            c.models.retrieve("curie")
        assert err.value.body == {
            "message": "The model 'curie' does not exist",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
        with pytest.raises(openai.PermissionDeniedError):
            c.models.delete("davinci-002")

        job = c.fine_tuning.jobs.create(
            training_file=upload(c, BOOK.read_bytes()), model="babbage-002"
        )
        done = wait(c, job.id)
        name = done.fine_tuned_model
        assert name is not None and name.startswith("ft:babbage-002:personal::")
        owner = c.models.retrieve(name).owned_by
        assert re.fullmatch(r"user-[a-z0-9]{24}", owner), owner
        assert name in {m.id for m in c.models.list()}
        assert c.models.delete(name).deleted is True
        assert name not in {m.id for m in c.models.list()}
        with pytest.raises(openai.NotFoundError):
            c.models.retrieve(name)
        with pytest.raises(openai.NotFoundError):
            c.models.delete(name)
        with pytest.raises(openai.NotFoundError) as gone:
            c.completions.create(model=name, prompt="Secrets Unveiled ->")
        assert gone.value.code == "model_not_found"
        assert c.fine_tuning.jobs.retrieve(job.id).fine_tuned_model == name  # history stays


def test_chat_tune_from_alias_streams_and_counts() -> None:
    with running_mock(speed=5000) as url:
        c = client(url)
        job = c.fine_tuning.jobs.create(training_file=upload(c, chat_rows(12)), model="gpt-4o-mini")
        assert job.model == "gpt-4o-mini-2024-07-18"
        done = wait(c, job.id)
        assert done.status == "succeeded", done.error
        assert (done.hyperparameters.n_epochs, done.hyperparameters.batch_size) == (8, 1)
        name = done.fine_tuned_model
        assert name is not None and name.startswith("ft:gpt-4o-mini-2024-07-18:personal::")
        messages = [{"role": "user", "content": "Capital of country 7?"}]
        r = c.chat.completions.create(model=name, messages=messages)  # type: ignore[arg-type]
        assert r.choices[0].message.content == "City number 7."
        assert r.choices[0].finish_reason == "stop"
        enc = encoding_for_model("gpt-4o-mini")
        assert r.usage is not None
        assert r.usage.completion_tokens == len(enc.encode_ordinary("City number 7."))
        assert r.usage.prompt_tokens == 3 + 3 + 1 + len(
            enc.encode_ordinary("Capital of country 7?")
        )

        short = c.chat.completions.create(model=name, messages=messages, max_tokens=2)  # type: ignore[arg-type]
        assert short.choices[0].finish_reason == "length"
        assert short.usage is not None and short.usage.completion_tokens == 2

        stream = c.chat.completions.create(
            model=name,
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        assert chunks[0].choices[0].delta.role == "assistant"
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        assert text == "City number 7."
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == r.usage.completion_tokens

        with pytest.raises(openai.NotFoundError, match="not a chat model"):
            c.chat.completions.create(model="davinci-002", messages=messages)  # type: ignore[arg-type]
        with pytest.raises(openai.NotFoundError, match="is a chat model"):
            c.completions.create(model=name, prompt="hi")
        base = c.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
        again = c.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
        assert base.choices[0].message.content == again.choices[0].message.content
        assert base.model == "gpt-4o-mini-2024-07-18"


def test_pause_resume_and_cancel_follow_the_clock() -> None:
    clock = FakeClock()
    with running_mock(speed=1.0, clock=clock) as url:
        c = client(url)
        file_id = upload(c, BOOK.read_bytes())
        job = c.fine_tuning.jobs.create(training_file=file_id, model="davinci-002")
        clock.advance(1)
        assert c.fine_tuning.jobs.retrieve(job.id).status == "validating_files"
        with pytest.raises(openai.BadRequestError):
            c.fine_tuning.jobs.pause(job.id)  # only a running job can pause
        clock.advance(2)
        assert c.fine_tuning.jobs.retrieve(job.id).status == "queued"
        clock.advance(3)
        running = c.fine_tuning.jobs.retrieve(job.id)
        assert running.status == "running" and running.estimated_finish is not None
        assert running.hyperparameters.n_epochs == 3

        paused = c.fine_tuning.jobs.pause(job.id)
        assert paused.status == "paused"  # type: ignore[comparison-overlap]
        steps_then = len(
            [
                e
                for e in c.fine_tuning.jobs.list_events(job.id, limit=500).data
                if e.type == "metrics"
            ]
        )
        clock.advance(1000)  # paused: no progress however long it waits
        assert c.fine_tuning.jobs.retrieve(job.id).status == "paused"  # type: ignore[comparison-overlap]
        events = c.fine_tuning.jobs.list_events(job.id, limit=500).data
        assert events[0].message == "Fine-tuning job paused"
        assert len([e for e in events if e.type == "metrics"]) == steps_then
        with pytest.raises(openai.BadRequestError):
            c.fine_tuning.jobs.pause(job.id)

        resumed = c.fine_tuning.jobs.resume(job.id)
        assert resumed.status == "queued"  # back in the queue first, as the description shows
        with pytest.raises(openai.BadRequestError):
            c.fine_tuning.jobs.resume(job.id)
        clock.advance(2)
        assert c.fine_tuning.jobs.retrieve(job.id).status == "running"
        assert c.fine_tuning.jobs.list_events(job.id).data[0].message == "Fine-tuning job resumed"
        clock.advance(60)
        done = c.fine_tuning.jobs.retrieve(job.id)
        assert done.status == "succeeded"
        # 19.5 s of work plus the 1000 s pause and 2 s back in the queue.
        assert done.finished_at == int(job.created_at + 19.5 + 1000 + 2)

        other = c.fine_tuning.jobs.create(training_file=file_id, model="davinci-002")
        clock.advance(5)
        cancelled = c.fine_tuning.jobs.cancel(other.id)
        assert cancelled.status == "cancelled" and cancelled.finished_at == int(clock.now)
        clock.advance(100)
        again = c.fine_tuning.jobs.retrieve(other.id)
        assert again.status == "cancelled" and again.fine_tuned_model is None
        assert (
            c.fine_tuning.jobs.list_events(other.id).data[0].message == "Fine-tuning job cancelled"
        )
        with pytest.raises(openai.BadRequestError):
            c.fine_tuning.jobs.cancel(other.id)

        third = c.fine_tuning.jobs.create(training_file=file_id, model="davinci-002")
        clock.advance(6)
        c.fine_tuning.jobs.pause(third.id)
        clock.advance(10)
        assert c.fine_tuning.jobs.cancel(third.id).status == "cancelled"
        clock.advance(10)
        messages = [e.message for e in c.fine_tuning.jobs.list_events(third.id).data]
        assert messages[:2] == ["Fine-tuning job cancelled", "Fine-tuning job paused"]
        assert c.fine_tuning.jobs.retrieve(third.id).finished_at == int(clock.now - 10)


def test_default_pace_and_speed() -> None:
    clock = FakeClock()
    for speed, low, high in ((1.0, 10.0, 30.0), (50.0, 0.0, 3.0)):
        with running_mock(speed=speed, clock=clock) as url:
            c = client(url)
            job = c.fine_tuning.jobs.create(
                training_file=upload(c, BOOK.read_bytes()), model="davinci-002"
            )
            elapsed = 0.0
            while c.fine_tuning.jobs.retrieve(job.id).status != "succeeded":
                clock.advance(0.25)
                elapsed += 0.25
                assert elapsed < 60
            assert low <= elapsed <= high


def test_jobs_list_pages_and_filters_by_metadata() -> None:
    with running_mock(speed=5000) as url:
        c = client(url)
        file_id = upload(c, BOOK.read_bytes())
        ids = []
        for i in range(5):
            job = c.fine_tuning.jobs.create(
                training_file=file_id, model="davinci-002", metadata={"batch": str(i % 2)}
            )
            ids.append(job.id)
            wait(c, job.id)
        newest_first = list(reversed(ids))
        page = c.fine_tuning.jobs.list(limit=2)
        assert [j.id for j in page.data] == newest_first[:2] and page.has_more
        assert [j.id for j in c.fine_tuning.jobs.list(limit=2)] == newest_first  # auto-paging
        after = c.fine_tuning.jobs.list(after=newest_first[1], limit=2)
        assert [j.id for j in after.data] == newest_first[2:4]
        odd = c.fine_tuning.jobs.list(metadata={"batch": "1"})
        assert [j.id for j in odd.data] == [ids[3], ids[1]]


def test_files_upload_list_page_content_delete() -> None:
    with running_mock() as url:
        c = client(url)
        made = [upload(c, b'{"prompt": "a", "completion": "b"}\n', f"f{i}.jsonl") for i in range(4)]
        assert c.files.retrieve(made[0]).bytes == 35
        desc = c.files.list(limit=2)
        assert [f.id for f in desc.data] == made[::-1][:2] and desc.has_more
        assert [f.id for f in c.files.list(limit=2)] == made[::-1]
        asc = c.files.list(order="asc", after=made[0], limit=10)
        assert [f.id for f in asc.data] == made[1:] and not asc.has_more
        raw = httpx.get(f"{url}/files?limit=3", headers={"Authorization": "Bearer k"}).json()
        assert (raw["first_id"], raw["last_id"]) == (made[3], made[1])
        with pytest.raises(openai.BadRequestError, match="purpose: fine-tune"):
            c.files.content(made[2])  # the service hands no training upload back
        notes = c.files.create(file=("notes.jsonl", io.BytesIO(b"{}\n")), purpose="batch").id
        assert c.files.content(notes).content == b"{}\n"
        assert c.files.delete(made[2]).deleted is True
        with pytest.raises(openai.NotFoundError) as err:
            c.files.retrieve(made[2])
        assert err.value.body == {
            "message": f"No such File object: {made[2]}",
            "type": "invalid_request_error",
            "param": "id",
            "code": None,
        }
        assert c.files.list(purpose="assistants").data == []
        with pytest.raises(openai.BadRequestError, match=r"\.jsonl"):
            c.files.create(file=("data.csv", io.BytesIO(b"a,b\n")), purpose="fine-tune")
        other = c.files.create(file=("notes.txt", io.BytesIO(b"hi")), purpose="assistants")
        assert other.purpose == "assistants"
