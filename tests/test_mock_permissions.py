"""Checkpoint permissions on the mock: share a tune with projects, list them with the service's
filters and paging, unshare, and the errors a client meets (unknown checkpoint or permission, a
bad project id, a second share, a key that is not an admin key when the mock asks for one)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.mock_server import FakeClock, running_mock

ROWS = "".join(
    json.dumps({"prompt": f"p{i} ->", "completion": f" c{i}\n"}) + "\n" for i in range(10)
).encode()
PROJECTS = [f"proj_{c * 24}" for c in "abc"]


def _tune(client: openai.OpenAI, clock: FakeClock) -> tuple[str, str]:
    """(tuned model, one of its checkpoints)."""
    file = client.files.create(file=("d.jsonl", io.BytesIO(ROWS)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(training_file=file.id, model="babbage-002")
    clock.advance(120)
    model = client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
    assert model is not None
    checkpoint = client.fine_tuning.jobs.checkpoints.list(job.id).data[-1]
    return model, checkpoint.fine_tuned_model_checkpoint


@pytest.fixture
def tuned() -> Iterator[tuple[openai.OpenAI, str, str, FakeClock]]:
    clock = FakeClock()
    with running_mock(speed=1.0, clock=clock) as url:
        client = openai.OpenAI(
            base_url=url, api_key="sk-any", max_retries=0, http_client=httpx.Client()
        )
        model, checkpoint = _tune(client, clock)
        yield client, model, checkpoint, clock


def test_share_list_and_unshare(tuned: tuple[openai.OpenAI, str, str, FakeClock]) -> None:
    client, model, checkpoint, clock = tuned
    permissions = client.fine_tuning.checkpoints.permissions
    first = permissions.create(model, project_ids=PROJECTS[:2])
    assert [p.project_id for p in first.data] == PROJECTS[:2]
    assert all(p.id.startswith("cp_") and p.object == "checkpoint.permission" for p in first.data)
    clock.advance(10)
    later = permissions.create(model, project_ids=[PROJECTS[2]]).data[0]
    assert later.created_at == first.data[0].created_at + 10

    newest_first = permissions.list(model)
    assert [p.project_id for p in newest_first.data] == [PROJECTS[2], *PROJECTS[:2][::-1]]
    oldest_first = permissions.list(model, order="ascending", limit=2)
    assert [p.project_id for p in oldest_first.data] == PROJECTS[:2]
    assert oldest_first.has_more
    rest = permissions.list(model, order="ascending", after=oldest_first.data[-1].id)
    assert [p.project_id for p in rest.data] == [PROJECTS[2]] and not rest.has_more
    only = permissions.list(model, project_id=PROJECTS[1])
    assert [p.project_id for p in only.data] == [PROJECTS[1]]

    # A checkpoint is shared on its own, apart from the tune.
    assert permissions.list(checkpoint).data == []
    permissions.create(checkpoint, project_ids=[PROJECTS[0]])
    assert len(permissions.list(checkpoint).data) == 1

    gone = permissions.delete(later.id, fine_tuned_model_checkpoint=model)
    assert gone.deleted and gone.id == later.id
    assert later.id not in {p.id for p in permissions.list(model).data}


def test_the_errors_a_client_meets(tuned: tuple[openai.OpenAI, str, str, FakeClock]) -> None:
    client, model, _, _ = tuned
    permissions = client.fine_tuning.checkpoints.permissions
    permissions.create(model, project_ids=[PROJECTS[0]])
    with pytest.raises(openai.BadRequestError) as again:
        permissions.create(model, project_ids=[PROJECTS[0]])
    assert again.value.param == "project_ids[0]"
    with pytest.raises(openai.BadRequestError) as bad:
        permissions.create(model, project_ids=[PROJECTS[1], "my-project"])
    assert bad.value.param == "project_ids[1]"
    with pytest.raises(openai.BadRequestError) as empty:
        permissions.create(model, project_ids=[])
    assert empty.value.code == "empty_array"
    with pytest.raises(openai.NotFoundError) as unknown:
        permissions.list("ft:babbage-002:personal::nope")
    assert unknown.value.param == "fine_tuned_model_checkpoint"
    with pytest.raises(openai.NotFoundError):
        permissions.delete("cp_nope", fine_tuned_model_checkpoint=model)
    with pytest.raises(openai.BadRequestError) as order:
        client.get(
            f"/fine_tuning/checkpoints/{model}/permissions",
            options={"params": {"order": "desc"}},
            cast_to=object,
        )
    assert order.value.param == "order"


def test_an_admin_key_is_needed_when_the_mock_asks_for_one() -> None:
    clock = FakeClock()
    with running_mock(speed=1.0, clock=clock, admin_keys_only=True) as url:
        project = openai.OpenAI(
            base_url=url, api_key="sk-proj-abc", max_retries=0, http_client=httpx.Client()
        )
        model, _ = _tune(project, clock)  # everything else takes any key
        with pytest.raises(openai.PermissionDeniedError) as refused:
            project.fine_tuning.checkpoints.permissions.create(model, project_ids=[PROJECTS[0]])
        assert "admin API key" in refused.value.message
        admin = openai.OpenAI(
            base_url=url, api_key="sk-admin-xyz", max_retries=0, http_client=httpx.Client()
        )
        shared = admin.fine_tuning.checkpoints.permissions.create(model, project_ids=[PROJECTS[0]])
        assert shared.data[0].project_id == PROJECTS[0]


def test_permissions_outlive_a_restart_with_state(tmp_path: Path) -> None:
    clock = FakeClock()
    apps: list[Any] = []
    with running_mock(speed=1.0, clock=clock, state=tmp_path, app_out=apps) as url:
        client = openai.OpenAI(base_url=url, api_key="k", max_retries=0, http_client=httpx.Client())
        model, _ = _tune(client, clock)
        kept = client.fine_tuning.checkpoints.permissions.create(model, project_ids=PROJECTS[:2])
        client.fine_tuning.checkpoints.permissions.delete(
            kept.data[1].id, fine_tuned_model_checkpoint=model
        )
    apps[0].state.store.db.close()  # what `ftctl mock serve` leaves behind when it stops
    with running_mock(speed=1.0, clock=clock, state=tmp_path) as url:
        client = openai.OpenAI(base_url=url, api_key="k", max_retries=0, http_client=httpx.Client())
        listed = client.fine_tuning.checkpoints.permissions.list(model).data
        assert [(p.id, p.project_id) for p in listed] == [(kept.data[0].id, PROJECTS[0])]


def test_mock_serve_admin_keys_only() -> None:
    command = [sys.executable, "-m", "ftctl", "mock", "serve", "--port", "0", "-q"]
    process = subprocess.Popen(
        [*command, "--admin-keys-only"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("ftctl mock listening on "), line
        url = line.split()[-1]
        path = "/fine_tuning/checkpoints/ft:davinci-002:personal::x/permissions"
        refused = httpx.get(url + path, headers={"Authorization": "Bearer sk-proj-1"})
        assert refused.status_code == 403
        assert "admin API key" in refused.json()["error"]["message"]
        admin = httpx.get(url + path, headers={"Authorization": "Bearer sk-admin-1"})
        assert admin.status_code == 404  # past the key check: no such checkpoint
    finally:
        process.kill()
        process.communicate(timeout=10)
