"""The mock's backend: its state (files, uploads, jobs, tuned models) and the service's rules
(what may be tuned, how many jobs may run, how tunes are named, what a job will do).

Handlers only read parameters and render; everything that needs state happens here. Each request
costs what its answer needs, not what is stored: jobs are kept in creation order with an index by
id and by metadata, finished jobs' outputs come into being from a queue ordered by finish time
(not by walking every job), and a finished job's JSON is built once.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import os
import random
import string
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftctl.mock import errors
from ftctl.mock.catalog import BASE_MODELS, BaseModel, snapshot_of
from ftctl.mock.completions import RateWindow
from ftctl.mock.params import JobRequest
from ftctl.mock.persist import StateDB
from ftctl.mock.records import (
    ACTIVE,
    QUEUE_SECONDS,
    FileRecord,
    Job,
    Pause,
    TunedModel,
    UploadRecord,
    digest,
    dump,
)
from ftctl.mock.training import (
    DataError,
    Dataset,
    Kind,
    Plan,
    make_plan,
    make_reinforcement_plan,
    read_dataset,
    results_csv,
)

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


@dataclass(frozen=True)
class JobFile:
    """One of a job's files as the job reads it: `known` if it was read once before (the same
    kind and model), else its bytes, to be read by `JobDraft.work`."""

    key: str
    param: str
    known: Dataset | DataError | None
    content: bytes = b""


@dataclass(frozen=True)
class JobWork:
    """What `JobDraft.work` found: every file read (to cache), and the job's data and plan, or
    the data's failure."""

    read: dict[str, Dataset | DataError]
    train: Dataset | None
    plan: Plan | None
    failure: tuple[str, str] | None


@dataclass(frozen=True)
class JobDraft:
    """A job checked against the state and named, its files not yet read nor the job planned
    (see `Store.draft_job`)."""

    request: JobRequest
    base: BaseModel
    kind: Kind
    source: str  # the model the job reports: a base snapshot or the tune it continues
    now: float
    training_file: str
    validation_file: str | None
    seed: int
    job_id: str
    short: str
    result_id: str
    files: tuple[JobFile, ...]  # the training file, then the validation file if any

    @property
    def slow(self) -> bool:
        """Reading a file checks and counts every line (seconds for a large one); planning a
        reinforcement job runs its grader (a python grader in a sandboxed process, seconds)."""
        unread = any(f.known is None for f in self.files)
        return unread or self.request.method_type == "reinforcement"

    def work(self) -> JobWork:
        """Read the files not read before, then plan the job. Reads the draft only, never the
        store: safe on a worker thread. Bad data does not refuse the job: it fails while
        validating files, as the service's do."""
        read: dict[str, Dataset | DataError] = {}
        found: list[Dataset] = []
        for file in self.files:
            result = file.known
            if result is None:
                try:
                    result = read_dataset(
                        file.content, kind=self.kind, model=self.base.id, param=file.param
                    )
                except DataError as exc:
                    result = exc
                read[file.key] = result
            if isinstance(result, DataError):
                return JobWork(read, None, None, (result.message, result.param))
            found.append(result)
        train, valid = found[0], (found[1] if len(found) > 1 else None)
        request = self.request
        plan = _plan(
            train,
            valid,
            self.seed,
            request.method_type,
            request.requested,
            request.grader,
        )
        return JobWork(read, train, plan, None)


class Store:
    """The service's state and rules.

    state: a directory to keep everything in (see `persist`); None keeps it for this process
    only, with file bytes in a temporary directory. salt: mixed into ids (not into job seeds or
    loss curves), so a server restarted with the same seed never hands out an id a client may
    still hold; `ftctl mock serve` passes its start time, tests pass nothing and get replays.
    """

    def __init__(
        self,
        *,
        speed: float,
        seed: int,
        org: str,
        clock: Callable[[], float],
        limits: Limits | None = None,
        state: Path | None = None,
        salt: str = "",
    ) -> None:
        self.speed = speed
        self.seed = seed
        self.org = org  # the name in `ft:` model names
        # Seeded ids shaped like the service's: `org-` and 24 characters; a personal account's
        # owner is `user-` and 24 lowercase characters.
        self.org_id = "org-" + digest(f"org:{seed}:{org}", 24)
        self.owner = "user-" + digest(f"owner:{seed}:{org}", 24).lower()
        self.rates = RateWindow()  # the x-ratelimit-* figures of completions and chat
        self.clock = clock
        self.limits = limits or Limits()
        self.rng = random.Random(seed)  # job seeds: the same story for the same seed
        self.db: StateDB | None = None
        if state is not None:
            self.db = StateDB(state)
            self.blobs = self.db.blobs
            salt = f"{salt}:{self.db.start()}"
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="ftctl-mock-")
            self.blobs = Path(self._tmp.name)
        self.salt = salt
        self._id_rng = random.Random(f"{seed}:{salt}")
        self._issued: set[str] = set()
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
        self._drafts = 0  # jobs checked and named, still being planned (see `draft_job`)
        self._datasets: dict[str, Dataset | DataError] = {}
        self._models_json: bytes | None = None
        self._file_order: list[tuple[int, int, str]] = []  # (created_at, seq, id), sorted
        if self.db is not None:
            self._load(self.db)

    # -- ids and the clock ----------------------------------------------------------------------
    def new_id(self, prefix: str, length: int = 24) -> str:
        while True:
            made = prefix + "".join(self._id_rng.choice(_ALNUM) for _ in range(length))
            if made not in self._issued:
                self._issued.add(made)
                return made

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def request_id(self) -> str:
        self._requests += 1
        text = (
            f"{self.seed}:{self.salt}:{self._requests}"
            if self.salt
            else f"{self.seed}:{self._requests}"
        )
        return "req_" + hashlib.md5(text.encode()).hexdigest()

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
        self._keep_file(
            job.result_file_id,
            "step_metrics.csv",
            "fine-tune-results",
            results_csv(job.plan),
            finished,
        )
        if job.fine_tuned_model not in self.deleted_models and job.train is not None:
            model = TunedModel(
                id=job.fine_tuned_model,
                created=int(finished),
                owned_by=self.owner,
                base=job.base,
                pairs=job.learned_pairs,
            )
            self.models[model.id] = model
            self._models_json = None
            if self.db is not None:
                self.db.save("model", model.id, self.next_seq(), _model_row(model, job))
        self._save_job(job)

    # -- models ---------------------------------------------------------------------------------
    def model_list(self) -> bytes:
        """GET /v1/models as JSON: built once, again only when a tune comes or goes."""
        if self._models_json is None:
            data = [
                {"id": m.id, "object": "model", "created": m.created, "owned_by": "system"}
                for m in BASE_MODELS.values()
            ] + [m.as_json() for m in self.models.values()]
            self._models_json = dump({"object": "list", "data": data})
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
        if self.db is not None:
            self.db.delete("model", name)
            self.db.save("deleted_model", name, self.next_seq(), {})

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
                return TunedModel(name, ckpt["created_at"], self.owner, job.base, job.learned_pairs)
        return None

    # -- files ----------------------------------------------------------------------------------
    def spool_path(self) -> Path:
        """A fresh file in the blob directory, for a request body on its way in."""
        fd, name = tempfile.mkstemp(prefix="incoming-", dir=self.blobs)
        os.close(fd)
        return Path(name)

    def _keep_file(
        self, file_id: str, filename: str, purpose: str, source: Path | bytes, now: float
    ) -> FileRecord:
        path = self.blobs / file_id
        if isinstance(source, bytes):
            spooled = self.spool_path()
            spooled.write_bytes(source)
            source = spooled
        os.replace(source, path)  # the same directory: atomic, and no copy
        record = FileRecord(
            id=file_id,
            filename=filename,
            purpose=purpose,
            size=path.stat().st_size,
            created_at=int(now),
            seq=self.next_seq(),
            path=path,
        )
        self._add_file(record)
        if self.db is not None:
            self.db.save("file", record.id, record.seq, _file_row(record))
        return record

    def add_file(self, filename: str, purpose: str, source: Path | bytes, now: float) -> FileRecord:
        return self._keep_file(self.new_id("file-"), filename, purpose, source, now)

    def upload_file(
        self, filename: str, purpose: str, source: Path | bytes, now: float
    ) -> FileRecord:
        """POST /v1/files: the service's checks on purpose and format, then the file."""
        if purpose not in FILE_PURPOSES:
            raise errors.one_of("purpose", purpose, FILE_PURPOSES)
        if purpose == "fine-tune" and not filename.lower().endswith(".jsonl"):
            raise errors.not_jsonl_file(filename)
        return self.add_file(filename, purpose, source, now)

    def file(self, file_id: str) -> FileRecord:
        record = self.files.get(file_id)
        if record is None:
            raise errors.file_not_found(file_id)
        return record

    def delete_file(self, file_id: str) -> FileRecord:
        record = self.file(file_id)
        del self.files[record.id]
        del self._file_order[bisect.bisect_left(self._file_order, _file_key(record))]
        if self.db is not None:
            self.db.delete("file", record.id)
        # Jobs read their data when created, so the bytes can go; a stored dataset stays.
        record.path.unlink(missing_ok=True)
        return record

    def _add_file(self, record: FileRecord) -> None:
        self.files[record.id] = record
        bisect.insort(self._file_order, _file_key(record))

    def list_files(
        self, purpose: str | None, descending: bool, after: str | None
    ) -> Iterator[FileRecord]:
        """Files by creation time from the sorted index, starting past `after`."""
        order = self._file_order
        if after:
            record = self.files.get(after)
            if record is None:
                return
            at = bisect.bisect_left(order, _file_key(record))
            positions = range(at - 1, -1, -1) if descending else range(at + 1, len(order))
        else:
            positions = range(len(order) - 1, -1, -1) if descending else range(len(order))
        for position in positions:
            found = self.files.get(order[position][2])
            if found is not None and (purpose is None or found.purpose == purpose):
                yield found

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
        self._save_upload(upload)
        return upload

    def _save_upload(self, upload: UploadRecord) -> None:
        if self.db is not None:
            self.db.save("upload", upload.id, upload.created_at, _upload_row(upload))

    def pending_upload(self, upload_id: str, now: float) -> UploadRecord:
        upload = self.uploads.get(upload_id)
        if upload is None:
            raise errors.upload_not_found(upload_id)
        status = upload.status_at(now)
        if status != "pending":
            raise errors.upload_not_pending(upload_id, status)
        return upload

    def add_part(self, upload_id: str, source: Path | bytes, now: float) -> str:
        upload = self.pending_upload(upload_id, now)
        part_id = self.new_id("part_")
        path = self.blobs / part_id
        if isinstance(source, bytes):
            path.write_bytes(source)
        else:
            os.replace(source, path)
        upload.parts[part_id] = path.stat().st_size
        self._save_upload(upload)
        return part_id

    def complete_upload(
        self, upload_id: str, part_ids: list[str], md5: object, now: float
    ) -> UploadRecord:
        upload = self.pending_upload(upload_id, now)
        unknown = [p for p in part_ids if p not in upload.parts]
        if unknown:
            raise errors.part_not_in_upload(unknown[0], upload.id)
        total = sum(upload.parts[p] for p in part_ids)
        if total != upload.size:
            raise errors.upload_size_mismatch(total, upload.size)
        # Joined on disk a chunk at a time, hashed on the way: memory stays flat.
        joined = self.spool_path()
        checksum = hashlib.md5()
        with joined.open("wb") as out:
            for part_id in part_ids:
                with (self.blobs / part_id).open("rb") as part:
                    while chunk := part.read(1 << 20):
                        checksum.update(chunk)
                        out.write(chunk)
        if md5 is not None and (not isinstance(md5, str) or checksum.hexdigest() != md5.lower()):
            joined.unlink()
            raise errors.md5_mismatch()
        upload.file = self.add_file(upload.filename, upload.purpose, joined, now)
        upload.status = "completed"
        self._drop_parts(upload)
        return upload

    def _drop_parts(self, upload: UploadRecord) -> None:
        for part_id in upload.parts:
            (self.blobs / part_id).unlink(missing_ok=True)
        self._save_upload(upload)

    def cancel_upload(self, upload_id: str, now: float) -> UploadRecord:
        upload = self.pending_upload(upload_id, now)
        upload.status = "cancelled"
        self._drop_parts(upload)
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

    def _job_file(self, record: FileRecord, kind: Kind, model: str, param: str) -> JobFile:
        """A file as a job will read it: once per file, kind and model."""
        key = _dataset_key(record.id, kind, model, param)
        known = self._datasets.get(key)
        if known is not None:
            return JobFile(key, param, known)
        # The bytes now: the file may be deleted while the job reads them on a thread.
        return JobFile(key, param, None, record.content)

    def _keep_dataset(self, key: str, found: Dataset | DataError) -> None:
        if key in self._datasets:  # another job read the same file meanwhile
            return
        self._datasets[key] = found
        if self.db is not None:
            self.db.save("dataset", key, self.next_seq(), _dataset_row(found))

    def _check_capacity(self, now: float) -> None:
        active = self._active_jobs(now)
        # A job being planned holds its place: it is as good as running.
        if len(active) + self._drafts >= self.limits.active_jobs:
            soonest = min((j.real(j.end) for j in active), default=now)
            retry = max(1, int(soonest - now) + 1)
            raise errors.too_many_active_jobs(
                self.limits.active_jobs, len(active) + self._drafts, retry
            )

    def draft_job(self, request: JobRequest, now: float) -> JobDraft:
        """POST /v1/fine_tuning/jobs, first part: check the request against the state and name
        the job, holding its place among the active jobs. `JobDraft.work` is the slow part
        (reading new files, a reinforcement job's grading) and touches no state, so the route
        may run it on a worker thread; then `keep_job` (or `drop_draft` if the work failed)."""
        base, source = self._tunable(request.model)
        kind_name = request.method_type
        if kind_name not in base.methods:
            raise errors.method_not_supported(base.id, kind_name)
        training = self._training_file("training_file", request.training_file)
        validation = self._training_file("validation_file", request.validation_file)
        assert training is not None
        self._check_capacity(now)
        seed = request.seed if request.seed is not None else self.rng.randrange(2**31)
        job_id = self.new_id("ftjob-")
        short = self.new_id("", 8)
        result_id = self.new_id("file-")
        kind = _kind(base, kind_name)
        files = [self._job_file(training, kind, base.id, "training_file")]
        if validation is not None:
            files.append(self._job_file(validation, kind, base.id, "validation_file"))
        self._drafts += 1
        return JobDraft(
            request=request,
            base=base,
            kind=kind,
            source=source,
            now=now,
            training_file=training.id,
            validation_file=validation.id if validation else None,
            seed=seed,
            job_id=job_id,
            short=short,
            result_id=result_id,
            files=tuple(files),
        )

    def keep_job(self, draft: JobDraft, work: JobWork) -> Job:
        """The job of a draft and its work, kept and indexed: from here on it is listed."""
        self._drafts -= 1
        for key, found in work.read.items():
            self._keep_dataset(key, found)
        request = draft.request
        job = Job(
            id=draft.job_id,
            base=draft.base,
            model=draft.source,
            created_real=draft.now,
            training_file=draft.training_file,
            validation_file=draft.validation_file,
            suffix=request.suffix,
            seed=draft.seed,
            metadata=request.metadata,
            method_type=request.method_type,
            requested=request.requested,
            integrations=request.integrations,
            fine_tuned_model=self.tune_name(draft.base, request.suffix, draft.short),
            result_file_id=draft.result_id,
            train=work.train,
            plan=work.plan,
            failure=work.failure,
            speed=self.speed,
            grader=request.grader,
            response_format=request.response_format,
        )
        self._index_job(job)
        self._save_job(job)
        return job

    @property
    def planning(self) -> int:
        """How many jobs are between `draft_job` and `keep_job`."""
        return self._drafts

    def drop_draft(self, draft: JobDraft) -> None:
        """A draft that will not become a job: its place among the active jobs is free again."""
        self._drafts -= 1

    def tune_name(self, base: BaseModel, suffix: str | None, short: str) -> str:
        return f"ft:{snapshot_of(base)}:{self.org}:{suffix or ''}:{short}"

    def _index_job(self, job: Job) -> None:
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
        self._save_job(job)
        return job

    def pause_job(self, job_id: str, now: float) -> Job:
        job = self.job(job_id)
        status = job.status(now)
        if status != "running":
            raise errors.cannot_pause(job.id, status)
        job.pauses.append(Pause(sim_at=job.sim(now), real_start=now))
        self._save_job(job)
        return job

    def resume_job(self, job_id: str, now: float) -> Job:
        job = self.job(job_id)
        status = job.status(now)
        if status != "paused":
            raise errors.cannot_resume(job.id, status)
        job.pauses[-1].resumed_at = now
        job.pauses[-1].real_end = now + QUEUE_SECONDS / job.speed  # back in the queue first
        self._schedule(job, self._position[job.id])
        self._save_job(job)
        return job

    def _save_job(self, job: Job) -> None:
        if self.db is not None:
            self.db.save("job", job.id, self._position[job.id], _job_row(job))

    # -- persistence ----------------------------------------------------------------------------
    def _load(self, db: StateDB) -> None:
        """Everything from the state directory, indexed as if it had just happened."""
        for name, _, _ in db.load("deleted_model"):
            self.deleted_models.add(name)
        for key, _, row in db.load("dataset"):
            self._datasets[key] = _dataset_from_row(row)
        for file_id, seq, row in db.load("file"):
            self._add_file(
                FileRecord(
                    id=file_id,
                    filename=row["filename"],
                    purpose=row["purpose"],
                    size=row["bytes"],
                    created_at=row["created_at"],
                    seq=seq,
                    path=self.blobs / file_id,
                )
            )
        for upload_id, _, row in db.load("upload"):
            upload = UploadRecord(
                id=upload_id,
                filename=row["filename"],
                purpose=row["purpose"],
                size=row["bytes"],
                mime_type=row["mime_type"],
                created_at=row["created_at"],
                status=row["status"],
                parts=dict(row["parts"]),
                file=self.files.get(row["file"]) if row["file"] else None,
            )
            self.uploads[upload_id] = upload
        for _, _, row in db.load("job"):
            self._index_job(self._job_from_row(row))
        for name, _, row in db.load("model"):
            job = self.jobs[row["job"]]
            assert job.train is not None
            self.models[name] = TunedModel(
                name, row["created"], self.owner, job.base, job.learned_pairs
            )
        self._seq = max([self._seq, *(f.seq for f in self.files.values())])
        self._issued.update(self.files, self.uploads, self.jobs)
        for upload in self.uploads.values():
            self._issued.update(upload.parts)

    def _job_from_row(self, row: dict[str, Any]) -> Job:
        base = BASE_MODELS[row["base"]]
        kind = _kind(base, row["method_type"])
        train: Dataset | None = None
        plan = None
        if row["failure"] is None:
            found = self._datasets[
                _dataset_key(row["training_file"], kind, base.id, "training_file")
            ]
            assert isinstance(found, Dataset)
            train = found
            valid = None
            if row["validation_file"] is not None:
                found = self._datasets[
                    _dataset_key(row["validation_file"], kind, base.id, "validation_file")
                ]
                assert isinstance(found, Dataset)
                valid = found
            grader = row.get("grader")
            plan = _plan(train, valid, row["seed"], row["method_type"], row["requested"], grader)
        job = Job(
            id=row["id"],
            base=base,
            model=row["model"],
            created_real=row["created_real"],
            training_file=row["training_file"],
            validation_file=row["validation_file"],
            suffix=row["suffix"],
            seed=row["seed"],
            metadata=row["metadata"],
            method_type=row["method_type"],
            requested=row["requested"],
            integrations=row["integrations"],
            fine_tuned_model=row["fine_tuned_model"],
            result_file_id=row["result_file_id"],
            train=train,
            plan=plan,
            failure=(row["failure"][0], row["failure"][1]) if row["failure"] else None,
            speed=row["speed"],
            grader=row.get("grader"),
            response_format=row.get("response_format"),
            pauses=[Pause(*p) for p in row["pauses"]],
            cancelled_real=row["cancelled_real"],
            materialized=row["materialized"],
        )
        return job


def _file_key(record: FileRecord) -> tuple[int, int, str]:
    return (record.created_at, record.seq, record.id)


def _kind(base: BaseModel, method_type: str) -> Kind:
    if method_type in ("dpo", "reinforcement"):
        return method_type  # type: ignore[return-value]
    return "chat" if base.chat else "completion"


def _plan(
    train: Dataset,
    valid: Dataset | None,
    seed: int,
    method_type: str,
    requested: dict[str, Any],
    grader: dict[str, Any] | None,
) -> Plan:
    if method_type == "reinforcement":
        assert grader is not None
        return make_reinforcement_plan(
            train, valid, grader=grader, grade=_grade, seed=seed, hyperparameters=requested
        )

    def given(key: str) -> Any:
        value = requested.get(key, "auto")
        return None if value == "auto" else value

    return make_plan(
        train,
        seed=seed,
        has_validation=valid is not None,
        n_epochs=given("n_epochs"),
        batch_size=given("batch_size"),
        learning_rate_multiplier=given("learning_rate_multiplier"),
        beta=(given("beta") or 0.1) if method_type == "dpo" else None,
        method=method_type,
    )


def _grade(grader: Mapping[str, Any], item: Mapping[str, Any], sample: str) -> float:
    """The reward the job's grader gives one of the model's answers (a failed run scores 0)."""
    from ftctl.graders import run_grader

    return float(run_grader(grader, item, sample)["reward"])


def _dataset_key(file_id: str, kind: str, model: str, param: str) -> str:
    return f"{file_id}|{kind}|{model}|{param}"


def _dataset_row(found: Dataset | DataError) -> dict[str, Any]:
    if isinstance(found, DataError):
        return {"error": [found.message, found.param]}
    return {
        "examples": found.examples,
        "tokens": found.tokens,
        "pairs": found.pairs,
        "items": found.items,
    }


def _dataset_from_row(row: dict[str, Any]) -> Dataset | DataError:
    if "error" in row:
        return DataError(*row["error"])
    pairs = tuple((p, c) for p, c in row["pairs"])
    items = tuple(row.get("items") or ())
    return Dataset(examples=row["examples"], tokens=row["tokens"], pairs=pairs, items=items)


def _file_row(record: FileRecord) -> dict[str, Any]:
    return {
        "filename": record.filename,
        "purpose": record.purpose,
        "bytes": record.size,
        "created_at": record.created_at,
    }


def _upload_row(upload: UploadRecord) -> dict[str, Any]:
    return {
        "filename": upload.filename,
        "purpose": upload.purpose,
        "bytes": upload.size,
        "mime_type": upload.mime_type,
        "created_at": upload.created_at,
        "status": upload.status,
        "parts": list(upload.parts.items()),
        "file": upload.file.id if upload.file else None,
    }


def _model_row(model: TunedModel, job: Job) -> dict[str, Any]:
    return {"created": model.created, "job": job.id}


def _job_row(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "base": job.base.id,
        "model": job.model,
        "created_real": job.created_real,
        "training_file": job.training_file,
        "validation_file": job.validation_file,
        "suffix": job.suffix,
        "seed": job.seed,
        "metadata": job.metadata,
        "method_type": job.method_type,
        "requested": job.requested,
        "integrations": job.integrations,
        "fine_tuned_model": job.fine_tuned_model,
        "result_file_id": job.result_file_id,
        "failure": list(job.failure) if job.failure else None,
        "speed": job.speed,
        "pauses": [[p.sim_at, p.real_start, p.real_end, p.resumed_at] for p in job.pauses],
        "grader": job.grader,
        "response_format": job.response_format,
        "cancelled_real": job.cancelled_real,
        "materialized": job.materialized,
    }
