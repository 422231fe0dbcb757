"""Paging read by index: walking pages with `after` gives exactly the full listing, newest first,
for jobs (with and without metadata filters) and for events around pauses and a cancel."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import openai

from tests.support.mock_server import FakeClock, running_mock

ROOT = Path(__file__).resolve().parent.parent
BOOK = (ROOT / "fixtures" / "book" / "train_data_prepared.jsonl").read_bytes()
AUTH = {"Authorization": "Bearer sk-mock-test"}


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=url,
        api_key="sk-mock-test",
        max_retries=0,
        http_client=httpx.Client(),  # type: ignore[arg-type]
    )


HTTP = httpx.Client(headers=AUTH)  # one client: a new one per request costs ~50 ms


def walk(url: str, path: str, limit: int, query: str = "") -> list[str]:
    ids: list[str] = []
    after = ""
    while True:
        cursor = f"&after={after}" if after else ""
        r = HTTP.get(f"{url}{path}?limit={limit}{query}{cursor}")
        assert r.status_code == 200, r.text
        page = r.json()
        ids += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            return ids
        assert len(page["data"]) == limit
        after = page["data"][-1]["id"]


def test_job_pages_walk_the_whole_list_newest_first() -> None:
    clock = FakeClock()
    with running_mock(speed=1000.0, clock=clock) as url:
        c = client(url)
        file_id = c.files.create(file=("b.jsonl", io.BytesIO(BOOK)), purpose="fine-tune").id
        made = []
        for i in range(13):
            job = c.fine_tuning.jobs.create(
                training_file=file_id,
                model="davinci-002",
                metadata={"batch": str(i % 3)} if i % 4 else None,
            )
            made.append((job.id, i))
            clock.advance(1)  # each finishes before the next: the active limit never bites
        newest_first = [job_id for job_id, _ in reversed(made)]
        assert walk(url, "/fine_tuning/jobs", 4) == newest_first
        assert walk(url, "/fine_tuning/jobs", 100) == newest_first
        ones = [job_id for job_id, i in reversed(made) if i % 4 and i % 3 == 1]
        assert walk(url, "/fine_tuning/jobs", 2, "&metadata[batch]=1") == ones
        plain = [job_id for job_id, i in reversed(made) if not i % 4]
        assert walk(url, "/fine_tuning/jobs", 2, "&metadata=null") == plain
        r = httpx.get(url + "/fine_tuning/jobs?after=ftjob-unknown", headers=AUTH).json()
        assert (r["data"], r["has_more"]) == ([], False)


def test_event_pages_match_the_full_list_around_pauses_and_cancel() -> None:
    clock = FakeClock()
    with running_mock(speed=1.0, clock=clock) as url:
        c = client(url)
        file_id = c.files.create(file=("b.jsonl", io.BytesIO(BOOK)), purpose="fine-tune").id
        job = c.fine_tuning.jobs.create(training_file=file_id, model="davinci-002")
        clock.advance(6)
        c.fine_tuning.jobs.pause(job.id)
        clock.advance(30)
        c.fine_tuning.jobs.resume(job.id)
        clock.advance(3)
        c.fine_tuning.jobs.pause(job.id)
        c.fine_tuning.jobs.resume(job.id)  # same second as the pause: ties keep their order
        clock.advance(2)
        c.fine_tuning.jobs.cancel(job.id)
        clock.advance(100)
        path = f"/fine_tuning/jobs/{job.id}/events"
        full = httpx.get(f"{url}{path}?limit=10000", headers=AUTH).json()["data"]
        messages = [e["message"] for e in full]
        assert messages[0] == "Fine-tuning job cancelled"
        assert messages.count("Fine-tuning job paused") == 2
        assert messages.count("Fine-tuning job resumed") == 2
        stamps = [e["created_at"] for e in full]
        assert stamps == sorted(stamps, reverse=True)
        ids = [e["id"] for e in full]
        assert len(set(ids)) == len(ids)
        for limit in (1, 2, 3, 7):
            assert walk(url, path, limit) == ids


def test_file_pages_walk_the_whole_list_in_either_order() -> None:
    clock = FakeClock()
    with running_mock(clock=clock) as url:
        made = []
        for i in range(7):
            purpose = "fine-tune" if i % 2 else "assistants"
            r = HTTP.post(
                url + "/files",
                files={"file": (f"f{i}.jsonl", b"{}\n")},
                data={"purpose": purpose},
            )
            made.append((r.json()["id"], purpose))
            clock.advance(i % 3)  # some share a second: creation order breaks the tie
        ids = [file_id for file_id, _ in made]
        assert walk(url, "/files", 2) == ids[::-1]
        assert walk(url, "/files", 3, "&order=asc") == ids
        tunes = [file_id for file_id, purpose in made if purpose == "fine-tune"]
        assert walk(url, "/files", 1, "&purpose=fine-tune&order=asc") == tunes
        assert HTTP.delete(f"{url}/files/{ids[3]}").json()["deleted"] is True
        assert walk(url, "/files", 2, "&order=asc") == ids[:3] + ids[4:]
