"""The mock's backend: its state (files, uploads, jobs, tuned models) and the service's rules
(what may be tuned, how many jobs may run, how tunes are named, what a job will do).

Handlers only read parameters and render; everything that needs state happens here. Each request
costs what its answer needs, not what is stored: jobs are kept in creation order with an index by
id and by metadata, finished jobs' outputs come into being from a queue ordered by finish time
(not by walking every job), and a finished job's JSON is built once.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ftctl.mock import errors
from ftctl.mock.catalog import BASE_MODELS, BaseModel, snapshot_of
from ftctl.mock.params import JobRequest
from ftctl.mock.records import (
    ACTIVE,
    FileRecord,
    Job,
    Pause,
    TunedModel,
    UploadRecord,
)
from ftctl.mock.training import DataError, Dataset, Kind, make_plan, read_dataset, results_csv

_ALNUM = string.ascii_letters + string.digits

FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision")
JSONL_MIME_TYPES = ("text/jsonl", "application/jsonl", "application/x-ndjson", "application/json")


@dataclass
class Limits:
    """Size and concurrency limits; tests shrink them to exercise 413 and 429 cheaply."""

    file_bytes: int = 512 * 1024 * 1024
    part_bytes: int = 64 * 1024 * 1024
    upload_bytes: int = 8 * 1024 * 1024 * 1024
    active_jobs: int = 6


class Store:
    def __init__(
        self,
        *,
        speed: float,
        seed: int,
        org: str,
        clock: Callable[[], float],
        limits: Limits | None = None,
    ) -> None:
        self.speed = speed
        self.seed = seed
        self.org = org
        self.clock = clock
        self.limits = limits or Limits()
        self.rng = random.Random(seed)
        self.files: dict[str, FileRecord] = {}
        self.uploads: dict[str, UploadRecord] = {}
        self.jobs: dict[str, Job] = {}
        self.models: dict[str, TunedModel] = {}
        self.deleted_models: set[str] = set()
        self._seq = 0
        self._requests = 0
        self._order: list[Job] = []  # jobs in creation order
        self._position: dict[str, int] = {}
        self._by_metadata: dict[tuple[str, str], list[int]] = {}
        self._by_tune: dict[str, Job] = {}  # fine_tuned_model name -> job, for checkpoints
        self._due: list[tuple[float, int, str]] = []  # (finish time, position, job id)
        self._active: set[str] = set()
        self._datasets: dict[tuple[str, str, str, str], Dataset | DataError] = {}
        self._models_json: list[dict[str, Any]] | None = None

    # -- ids and the clock ----------------------------------------------------------------------
    def new_id(self, prefix: str, length: int = 24) -> str:
        return prefix + "".join(self.rng.choice(_ALNUM) for _ in range(length))

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def request_id(self) -> str:
        self._requests += 1
        return "req_" + hashlib.md5(f"{self.seed}:{self._requests}".encode()).hexdigest()

    def sync(self) -> float:
        """Read the clock once per request, and make the outputs of jobs finished by now exist.

        Only jobs whose finish time has passed are looked at; a job paused since is put back
        when it resumes."""
        now = self.clock()
        while self._due and self._due[0][0] <= now:
            _, position, job_id = heapq.heappop(self._due)
            job = self.jobs[job_id]
            status = job.status(now)
            if status == "succeeded":
                self._materialize(job)
            elif status in ACTIVE and status != "paused":  # resumed: it finishes later now
                self._schedule(job, position)
        return now

    def _schedule(self, job: Job, position: int) -> None:
        heapq.heappush(self._due, (job.real(job.end), position, job.id))

    def _materialize(self, job: Job) -> None:
        if job.materialized or job.plan is None:
            return
        job.materialized = True
        finished = job.real(job.end)
        self.files[job.result_file_id] = FileRecord(
            id=job.result_file_id,
            filename="step_metrics.csv",
            purpose="fine-tune-results",
            content=results_csv(job.plan),
            created_at=int(finished),
            seq=self.next_seq(),
        )
        if job.fine_tuned_model not in self.deleted_models and job.train is not None:
            self.models[job.fine_tuned_model] = TunedModel(
                id=job.fine_tuned_model,
                created=int(finished),
                owned_by=self.org,
                base=job.base,
                pairs=job.train.pairs,
            )
            self._models_json = None

    # -- models ---------------------------------------------------------------------------------
    def model_list(self) -> list[dict[str, Any]]:
        if self._models_json is None:
            self._models_json = [
                {"id": m.id, "object": "model", "created": m.created, "owned_by": "system"}
                for m in BASE_MODELS.values()
            ] + [m.as_json() for m in self.models.values()]
        return self._models_json

    def model(self, name: str) -> dict[str, Any]:
        base = BASE_MODELS.get(name)
        if base is not None:
            return {"id": base.id, "object": "model", "created": base.created, "owned_by": "system"}
        tuned = self.models.get(name)
        if tuned is None:
            raise errors.model_not_found(name)
        return tuned.as_json()

    def delete_model(self, name: str) -> None:
        if name in BASE_MODELS:
            raise errors.cannot_delete_model(name)
        if name not in self.models:
            raise errors.model_not_found(name)
        del self.models[name]
        self.deleted_models.add(name)
        self._models_json = None

    def sampling_model(self, name: str, now: float) -> tuple[BaseModel, TunedModel | None]:
        """The model a completion runs on: a base model, a live tune, or a kept checkpoint."""
        base = BASE_MODELS.get(name)
        if base is not None:
            return base, None
        tuned = self.tuned_or_checkpoint(name, now)
        if tuned is None:
            raise errors.sampling_model_not_found(name)
        return tuned.base, tuned

    def tuned_or_checkpoint(self, name: str, now: float) -> TunedModel | None:
        """A live tune, or one of a job's kept checkpoints (which can be sampled too)."""
        if name in self.models:
            return self.models[name]
        tune, sep, _ = name.partition(":ckpt-step-")
        job = self._by_tune.get(tune) if sep else None
        if job is None or job.train is None:
            return None
        for ckpt in job.checkpoints(now):
            if ckpt["fine_tuned_model_checkpoint"] == name:
                return TunedModel(name, ckpt["created_at"], self.org, job.base, job.train.pairs)
        return None

    # -- files ----------------------------------------------------------------------------------
    def add_file(self, filename: str, purpose: str, content: bytes, now: float) -> FileRecord:
        record = FileRecord(
            id=self.new_id("file-"),
            filename=filename,
            purpose=purpose,
            content=content,
            created_at=int(now),
            seq=self.next_seq(),
        )
        self.files[record.id] = record
        return record

    def upload_file(self, filename: str, purpose: str, content: bytes, now: float) -> FileRecord:
        """POST /v1/files: the service's checks on purpose and format, then the file."""
        if purpose not in FILE_PURPOSES:
            raise errors.one_of("purpose", purpose, FILE_PURPOSES)
        if purpose == "fine-tune" and not filename.lower().endswith(".jsonl"):
            raise errors.not_jsonl_file(filename)
        return self.add_file(filename, purpose, content, now)

    def file(self, file_id: str) -> FileRecord:
        record = self.files.get(file_id)
        if record is None:
            raise errors.file_not_found(file_id)
        return record

    def delete_file(self, file_id: str) -> FileRecord:
        record = self.file(file_id)
        del self.files[record.id]
        return record

    def list_files(self, purpose: str | None, descending: bool) -> list[FileRecord]:
        return sorted(
            (f for f in self.files.values() if purpose is None or f.purpose == purpose),
            key=lambda f: (f.created_at, f.seq),
            reverse=descending,
        )

    # -- uploads --------------------------------------------------------------------------------
    def create_upload(
        self, filename: str, purpose: str, mime_type: str, size: int, now: float
    ) -> UploadRecord:
        errors.check_int_range("bytes", size, 0, self.limits.upload_bytes)
        if purpose not in UPLOAD_PURPOSES:
            raise errors.upload_purpose(purpose)
        if purpose == "fine-tune":
            if not filename.lower().endswith(".jsonl"):
                raise errors.upload_not_jsonl()
            if mime_type not in JSONL_MIME_TYPES:
                raise errors.upload_mime_type(mime_type, JSONL_MIME_TYPES)
        upload = UploadRecord(
            id=self.new_id("upload_"),
            filename=filename,
            purpose=purpose,
            size=size,
            mime_type=mime_type,
            created_at=int(now),
        )
        self.uploads[upload.id] = upload
        return upload

    def pending_upload(self, upload_id: str, now: float) -> UploadRecord:
        upload = self.uploads.get(upload_id)
        if upload is None:
            raise errors.upload_not_found(upload_id)
        status = upload.status_at(now)
        if status != "pending":
            raise errors.upload_not_pending(upload_id, status)
        return upload

    def add_part(self, upload_id: str, data: bytes, now: float) -> str:
        upload = self.pending_upload(upload_id, now)
        part_id = self.new_id("part_")
        upload.parts[part_id] = data
        return part_id

    def complete_upload(
        self, upload_id: str, part_ids: list[str], md5: object, now: float
    ) -> UploadRecord:
        upload = self.pending_upload(upload_id, now)
        unknown = [p for p in part_ids if p not in upload.parts]
        if unknown:
            raise errors.part_not_in_upload(unknown[0], upload.id)
        content = b"".join(upload.parts[p] for p in part_ids)
        if len(content) != upload.size:
            raise errors.upload_size_mismatch(len(content), upload.size)
        if md5 is not None and (
            not isinstance(md5, str) or hashlib.md5(content).hexdigest() != md5.lower()
        ):
            raise errors.md5_mismatch()
        upload.file = self.add_file(upload.filename, upload.purpose, content, now)
        upload.status = "completed"
        return upload

    def cancel_upload(self, upload_id: str, now: float) -> UploadRecord:
        upload = self.pending_upload(upload_id, now)
        upload.status = "cancelled"
        return upload

    # -- fine-tuning jobs -----------------------------------------------------------------------
    def job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise errors.job_not_found(job_id)
        return job

    def jobs_newest_first(
        self, after: str | None, metadata: dict[str, str], no_metadata: bool
    ) -> Iterator[Job]:
        """Jobs newest first, starting below `after`; filtered by metadata through its index."""
        start = len(self._order) - 1
        if after:
            position = self._position.get(after)
            if position is None:
                return
            start = position - 1
        if metadata:
            key, value = next(iter(metadata.items()))
            positions = self._by_metadata.get((key, value), [])
            for position in reversed(positions):
                if position > start:
                    continue
                job = self._order[position]
                meta = job.metadata or {}
                if all(meta.get(k) == v for k, v in metadata.items()):
                    yield job
            return
        for position in range(start, -1, -1):
            job = self._order[position]
            if no_metadata and job.metadata:
                continue
            yield job

    def _active_jobs(self, now: float) -> list[Job]:
        for job_id in [j for j in self._active if self.jobs[j].status(now) not in ACTIVE]:
            self._active.discard(job_id)
        return [self.jobs[j] for j in self._active]

    def _tunable(self, model: str) -> tuple[BaseModel, str]:
        """(base model, the name the job reports) for a model that may be fine-tuned."""
        base = BASE_MODELS.get(model)
        if base is not None and base.tunable:
            return base, snapshot_of(base)
        tuned = self.models.get(model)
        if tuned is not None:  # continued fine-tuning of one of your own tunes
            return tuned.base, tuned.id
        raise errors.model_not_tunable(model)

    def _training_file(self, param: str, file_id: str | None) -> FileRecord | None:
        if file_id is None:
            return None
        record = self.files.get(file_id)
        if record is None:
            raise errors.training_file_not_found(param, file_id)
        if record.purpose != "fine-tune":
            raise errors.training_file_purpose(param, file_id, record.purpose)
        return record

    def _dataset(self, record: FileRecord, kind: Kind, model: str, param: str) -> Dataset:
        """The file read as the service reads it; once per file, kind and model."""
        key = (record.id, kind, model, param)
        found = self._datasets.get(key)
        if found is None:
            try:
                found = read_dataset(record.content, kind=kind, model=model, param=param)
            except DataError as exc:
                found = exc
            self._datasets[key] = found
        if isinstance(found, DataError):
            raise found
        return found

    def _check_capacity(self, now: float) -> None:
        active = self._active_jobs(now)
        if len(active) >= self.limits.active_jobs:
            soonest = min(j.real(j.end) for j in active)
            retry = max(1, int(soonest - now) + 1)
            raise errors.too_many_active_jobs(self.limits.active_jobs, len(active), retry)

    def create_job(self, request: JobRequest, now: float) -> Job:
        """POST /v1/fine_tuning/jobs: check the request against the state, plan the job, keep it.

        Bad data does not refuse the job: it fails while validating files, as the service's do.
        """
        base, source = self._tunable(request.model)
        kind_name = request.method_type
        if kind_name == "reinforcement" or (kind_name == "dpo" and not base.dpo):
            raise errors.method_not_supported(base.id, kind_name)
        training = self._training_file("training_file", request.training_file)
        validation = self._training_file("validation_file", request.validation_file)
        assert training is not None
        self._check_capacity(now)
        seed = request.seed if request.seed is not None else self.rng.randrange(2**31)
        job_id = self.new_id("ftjob-")
        short = self.new_id("", 8)
        result_id = self.new_id("file-")
        kind: Kind = "dpo" if kind_name == "dpo" else ("chat" if base.chat else "completion")
        train: Dataset | None = None
        failure: tuple[str, str] | None = None
        plan = None
        valid: Dataset | None = None
        try:
            train = self._dataset(training, kind, base.id, "training_file")
            if validation is not None:
                valid = self._dataset(validation, kind, base.id, "validation_file")
        except DataError as exc:
            failure = (exc.message, exc.param)
            train = None
        if train is not None:

            def given(key: str) -> Any:
                value = request.requested.get(key, "auto")
                return None if value == "auto" else value

            plan = make_plan(
                train,
                seed=seed,
                has_validation=valid is not None,
                n_epochs=given("n_epochs"),
                batch_size=given("batch_size"),
                learning_rate_multiplier=given("learning_rate_multiplier"),
                beta=(given("beta") or 0.1) if kind_name == "dpo" else None,
            )
        job = Job(
            id=job_id,
            base=base,
            model=source,
            created_real=now,
            training_file=training.id,
            validation_file=validation.id if validation else None,
            suffix=request.suffix,
            seed=seed,
            metadata=request.metadata,
            method_type=kind_name,
            requested=request.requested,
            integrations=request.integrations,
            fine_tuned_model=self.tune_name(base, request.suffix, short),
            result_file_id=result_id,
            train=train,
            plan=plan,
            failure=failure,
            speed=self.speed,
        )
        self._add_job(job)
        return job

    def tune_name(self, base: BaseModel, suffix: str | None, short: str) -> str:
        return f"ft:{snapshot_of(base)}:{self.org}:{suffix or ''}:{short}"

    def _add_job(self, job: Job) -> None:
        position = len(self._order)
        self.jobs[job.id] = job
        self._order.append(job)
        self._position[job.id] = position
        for item in (job.metadata or {}).items():
            self._by_metadata.setdefault(item, []).append(position)
        self._by_tune[job.fine_tuned_model] = job
        self._active.add(job.id)
        if job.plan is not None:
            self._schedule(job, position)

    def cancel_job(self, job_id: str, now: float) -> Job:
        job = self.job(job_id)
        status = job.status(now)
        if status not in ACTIVE:
            raise errors.cannot_cancel(job.id, status)
        # A paused job stays paused up to the cancel (no "resumed" event); the clock stops there.
        job.cancelled_real = now
        return job

    def pause_job(self, job_id: str, now: float) -> Job:
        job = self.job(job_id)
        status = job.status(now)
        if status != "running":
            raise errors.cannot_pause(job.id, status)
        job.pauses.append(Pause(sim_at=job.sim(now), real_start=now))
        return job

    def resume_job(self, job_id: str, now: float) -> Job:
        job = self.job(job_id)
        status = job.status(now)
        if status != "paused":
            raise errors.cannot_resume(job.id, status)
        job.pauses[-1].real_end = now
        self._schedule(job, self._position[job.id])
        return job
