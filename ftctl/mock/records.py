"""The mock's records: files, uploads, jobs and tuned models.

A job's status is never advanced by a background task: it is computed from the clock each time it
is read. `sim = (now - created - time spent paused) * speed` seconds of simulated work have been
done, and the timeline below says where that puts the job. Ids come from one seeded generator,
so a given seed and request sequence replays identically.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftctl.mock.catalog import BaseModel
from ftctl.mock.training import KEPT_CHECKPOINTS, Dataset, Plan, method_view

# Simulated seconds of each phase. The book's 30-example job (90 steps) takes about 19 s at
# speed 1; a large job's steps are shortened so nothing takes more than about a minute.
VALIDATE_SECONDS = 2.0
QUEUE_SECONDS = 2.0
FINALIZE_SECONDS = 2.0
UPLOAD_TTL_SECONDS = 3600

ACTIVE = frozenset({"validating_files", "queued", "running", "paused"})
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
_ALNUM = string.ascii_letters + string.digits


def step_seconds(total_steps: int) -> float:
    return min(0.15, max(0.005, 45.0 / total_steps))


@dataclass
class FileRecord:
    """A stored file; its bytes are on disk at `path`, never held in memory."""

    id: str
    filename: str
    purpose: str
    size: int
    created_at: int
    seq: int
    path: Path

    @property
    def content(self) -> bytes:
        return self.path.read_bytes()

    def as_json(self) -> dict[str, Any]:
        return {
            "object": "file",
            "id": self.id,
            "purpose": self.purpose,
            "filename": self.filename,
            "bytes": self.size,
            "created_at": self.created_at,
            "status": "processed",
            "status_details": None,  # deprecated, but the service still sends it
        }


@dataclass
class UploadRecord:
    id: str
    filename: str
    purpose: str
    size: int
    mime_type: str
    created_at: int
    status: str = "pending"
    parts: dict[str, int] = field(default_factory=dict)  # part id -> size; bytes on disk
    file: FileRecord | None = None

    def status_at(self, now: float) -> str:
        if self.status == "pending" and now >= self.created_at + UPLOAD_TTL_SECONDS:
            return "expired"
        return self.status

    def as_json(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "object": "upload",
            "bytes": self.size,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": self.status_at(now),
            "expires_at": self.created_at + UPLOAD_TTL_SECONDS,
        }
        if self.file is not None:
            out["file"] = self.file.as_json()
        return out


@dataclass
class TunedModel:
    id: str
    created: int
    owned_by: str
    base: BaseModel
    pairs: tuple[tuple[str, str], ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": self.owned_by,
        }


@dataclass
class Pause:
    sim_at: float
    real_start: float
    real_end: float | None = None  # back in the queue from `resumed_at` until here
    resumed_at: float | None = None


@dataclass
class SimEvent:
    """An event placed on the job's simulated timeline."""

    sim: float
    key: str
    message: str
    level: str = "info"
    type: str = "message"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    id: str
    base: BaseModel
    model: str
    created_real: float
    training_file: str
    validation_file: str | None
    suffix: str | None
    seed: int
    metadata: dict[str, str] | None
    method_type: str
    requested: dict[str, Any]  # hyperparameters as asked for, "auto" where not given
    integrations: list[dict[str, Any]]
    fine_tuned_model: str
    result_file_id: str
    train: Dataset | None
    plan: Plan | None
    failure: tuple[str, str] | None  # (message, param) found while validating files
    speed: float
    grader: dict[str, Any] | None = None  # reinforcement
    response_format: dict[str, Any] | None = None  # reinforcement
    pauses: list[Pause] = field(default_factory=list)
    cancelled_real: float | None = None
    materialized: bool = False
    _timeline: list[SimEvent] | None = None
    _ids: dict[str, int] | None = None
    _id_list: list[str] = field(default_factory=list)
    _final: bytes | None = None  # the object's JSON, once the job can no longer change

    # -- the clock ------------------------------------------------------------------------------
    @property
    def created_at(self) -> int:
        return int(self.created_real)

    @property
    def run_start(self) -> float:
        return VALIDATE_SECONDS + QUEUE_SECONDS

    @property
    def step_time(self) -> float:
        return step_seconds(self.plan.total_steps) if self.plan else 0.0

    @property
    def run_end(self) -> float:
        assert self.plan is not None
        return self.run_start + self.plan.total_steps * self.step_time

    @property
    def end(self) -> float:
        """Simulated second at which the job reaches its natural end (succeeded or failed)."""
        if self.plan is None:
            return VALIDATE_SECONDS
        return self.run_end + FINALIZE_SECONDS

    def sim(self, now: float) -> float:
        until = now if self.cancelled_real is None else min(now, self.cancelled_real)
        paused = 0.0
        for p in self.pauses:
            if p.real_start >= until:
                break
            paused += min(p.real_end if p.real_end is not None else until, until) - p.real_start
        return max(0.0, (until - self.created_real - paused) * self.speed)

    def real(self, sim: float) -> float:
        """The real time at which simulated second `sim` was (or will be) reached."""
        paused = sum(
            (p.real_end - p.real_start)
            for p in self.pauses
            if p.sim_at < sim and p.real_end is not None
        )
        return self.created_real + sim / self.speed + paused

    def status(self, now: float) -> str:
        if self.cancelled_real is not None and now >= self.cancelled_real:
            return "cancelled"
        if self.pauses and self.pauses[-1].real_end is None:
            return "paused"
        if self.pauses and now < (self.pauses[-1].real_end or 0):
            return "queued"  # a resumed job waits for its turn again, as the service's does
        s = self.sim(now)
        if s < VALIDATE_SECONDS:
            return "validating_files"
        if self.plan is None:
            return "failed"
        if s < self.run_start:
            return "queued"
        if s < self.end:
            return "running"
        return "succeeded"

    # -- the view -------------------------------------------------------------------------------
    def hyperparameters(self, now: float) -> dict[str, Any]:
        """The deprecated top-level field: the three hyperparameters every method has."""
        common = ("batch_size", "learning_rate_multiplier", "n_epochs")
        view = self.method(now)[self.method_type]["hyperparameters"]
        return {key: view[key] for key in common if key in view}

    def method(self, now: float) -> dict[str, Any]:
        return method_view(
            self.method_type,
            self.requested,
            self.plan,
            resolved=self.sim(now) >= VALIDATE_SECONDS,
            grader=self.grader,
            response_format=self.response_format,
        )

    @property
    def learned_pairs(self) -> tuple[tuple[str, str], ...]:
        """What the tune answers with: its training answers, or for reinforcement, the answers
        its grader rewarded."""
        if self.plan is not None and self.plan.learned is not None:
            return self.plan.learned
        return self.train.pairs if self.train is not None else ()

    def finished_at(self, now: float) -> int | None:
        status = self.status(now)
        if status == "cancelled":
            assert self.cancelled_real is not None
            return int(self.cancelled_real)
        if status in ("succeeded", "failed"):
            return int(self.real(self.end))
        return None

    def json_bytes(self, now: float, org: str) -> bytes:
        """The object as JSON; computed once for a job that has finished."""
        if self._final is not None:
            return self._final
        out = self.as_json(now, org)
        encoded = dump(out)
        if out["status"] in TERMINAL:
            self._final = encoded
        return encoded

    def as_json(self, now: float, org: str) -> dict[str, Any]:
        status = self.status(now)
        error = None
        if status == "failed" and self.failure is not None:
            message, param = self.failure
            error = {"code": "invalid_training_file", "message": message, "param": param}
        estimated = None
        if status == "running":
            estimated = math.ceil(now + (self.end - self.sim(now)) / self.speed)
        succeeded = status == "succeeded"
        return {
            "object": "fine_tuning.job",
            "id": self.id,
            "model": self.model,
            "created_at": self.created_at,
            "finished_at": self.finished_at(now),
            "fine_tuned_model": self.fine_tuned_model if succeeded else None,
            "organization_id": org,
            "result_files": [self.result_file_id] if succeeded else [],
            "status": status,
            "validation_file": self.validation_file,
            "training_file": self.training_file,
            "hyperparameters": self.hyperparameters(now),
            "trained_tokens": self.plan.trained_tokens if succeeded and self.plan else None,
            "error": error,
            "user_provided_suffix": self.suffix,
            "seed": self.seed,
            "estimated_finish": estimated,
            "integrations": self.integrations,
            "metadata": self.metadata,
            "method": self.method(now),
        }

    # -- events and checkpoints -----------------------------------------------------------------
    def timeline(self) -> list[SimEvent]:
        """Every event the job will emit if left alone, in order (built once)."""
        if self._timeline is not None:
            return self._timeline
        files = f"Validating training file: {self.training_file}"
        if self.validation_file:
            files += f" and validation file: {self.validation_file}"
        events = [
            SimEvent(0.0, "created", f"Created fine-tuning job: {self.id}"),
            SimEvent(0.0, "validating", files),
        ]
        if self.plan is None:
            message = self.failure[0] if self.failure else "Validation failed"
            events.append(SimEvent(VALIDATE_SECONDS, "failed", message, level="error"))
            events.append(
                SimEvent(
                    VALIDATE_SECONDS,
                    "failed2",
                    "The job failed due to an invalid training file.",
                    level="error",
                )
            )
            self._timeline = events
            return events
        plan = self.plan
        events.append(
            SimEvent(VALIDATE_SECONDS, "validated", "Files validated, moving job to queued state")
        )
        events.append(SimEvent(self.run_start, "started", "Fine-tuning job started"))
        # Every step for ordinary jobs; a sample of steps for huge ones, as the service thins them.
        stride = max(1, math.ceil(plan.total_steps / 1000))
        checkpoints = set(plan.checkpoint_steps)
        for m in plan.metrics:
            at = self.run_start + m.step * self.step_time
            if m.step % stride == 0 or m.step in (1, plan.total_steps):
                events.append(
                    SimEvent(
                        at,
                        f"step-{m.step}",
                        m.message(plan.total_steps),
                        type="metrics",
                        data=m.data(plan.total_steps),
                    )
                )
            if m.step in checkpoints:
                events.append(
                    SimEvent(
                        at,
                        f"ckpt-{m.step}",
                        f"Checkpoint created at step {m.step} with Snapshot ID: "
                        f"{self.checkpoint_name(m.step)}",
                    )
                )
        end = self.run_end
        events += [
            SimEvent(end + 0.5, "model", f"New fine-tuned model created: {self.fine_tuned_model}"),
            SimEvent(end + 1.0, "eval", "Evaluating model against our usage policies"),
            SimEvent(
                end + 1.5,
                "enabled",
                "Usage policy evaluations completed, model is now enabled for sampling",
            ),
            SimEvent(self.end, "done", "The job has successfully completed"),
        ]
        self._timeline = events
        return events

    def checkpoint_name(self, step: int) -> str:
        return f"{self.fine_tuned_model}:ckpt-step-{step}"

    def _event_ids(self) -> dict[str, int]:
        """Event id -> index in the timeline (built once, with the timeline)."""
        if self._ids is None:
            self._ids = {self._event_id(ev.key): i for i, ev in enumerate(self.timeline())}
            self._id_list = list(self._ids)
        return self._ids

    def _event_id(self, key: str) -> str:
        return "ftevent-" + digest(f"{self.id}:{key}", 24)

    def _extras(self, now: float, reached: int) -> list[tuple[float, int, SimEvent]]:
        """Pause, resume and cancel events so far, as (real time, order, event), oldest first.
        Their order numbers follow the timeline's, so ties sort as they always have."""
        out: list[tuple[float, int, SimEvent]] = []
        order = reached
        for i, p in enumerate(self.pauses):
            if p.real_start <= now:
                out.append(
                    (p.real_start, order, SimEvent(0, f"pause-{i}", "Fine-tuning job paused"))
                )
                order += 1
            if p.resumed_at is not None and p.resumed_at <= now:
                out.append(
                    (p.resumed_at, order, SimEvent(0, f"resume-{i}", "Fine-tuning job resumed"))
                )
                order += 1
        if self.cancelled_real is not None and self.cancelled_real <= now:
            out.append(
                (self.cancelled_real, order, SimEvent(0, "cancelled", "Fine-tuning job cancelled"))
            )
        out.sort(key=lambda e: (e[0], e[1]))
        return out

    def events_page(
        self, now: float, after: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Events so far, newest first: at most `limit` of them after the event `after`.

        Costs what the page needs: the timeline is bisected, not walked, and only the events on
        the page are built."""
        timeline = self.timeline()
        s = self.sim(now)
        reached = bisect.bisect_right(timeline, s, key=lambda ev: ev.sim)
        extras = self._extras(now, reached)
        t, e = reached - 1, len(extras) - 1  # next candidates, walking back in time
        if after:
            index = self._event_ids().get(after)
            extra = next(
                (j for j, x in enumerate(extras) if self._event_id(x[2].key) == after), None
            )
            if index is not None and index < reached:
                key = (self.real(timeline[index].sim), index)
                t = index - 1
                e = bisect.bisect_left(extras, key, key=lambda x: (x[0], x[1])) - 1
            elif extra is not None:
                e = extra - 1
                t = (
                    bisect.bisect_right(
                        timeline, extras[extra][0], hi=reached, key=lambda ev: self.real(ev.sim)
                    )
                    - 1
                )
            else:
                return [], False
        out: list[dict[str, Any]] = []
        self._event_ids()
        ids = self._id_list
        while (t >= 0 or e >= 0) and len(out) < limit:
            real_t = self.real(timeline[t].sim) if t >= 0 else -math.inf
            if e >= 0 and (extras[e][0], extras[e][1]) > (real_t, t):
                out.append(self._event(extras[e][2].key, extras[e][0], extras[e][2]))
                e -= 1
            else:
                out.append(self._event(timeline[t].key, real_t, timeline[t], ids[t]))
                t -= 1
        return out, t >= 0 or e >= 0

    def _event(
        self, key: str, real: float, ev: SimEvent, event_id: str | None = None
    ) -> dict[str, Any]:
        return {
            "object": "fine_tuning.job.event",
            "id": event_id or self._event_id(key),
            "created_at": int(real),
            "level": ev.level,
            "message": ev.message,
            "data": ev.data,
            "type": ev.type,
        }

    def checkpoints(self, now: float) -> list[dict[str, Any]]:
        """The last three epoch-end checkpoints reached so far, newest first."""
        if self.plan is None:
            return []
        s = self.sim(now)
        reached = [
            step
            for step in self.plan.checkpoint_steps
            if self.run_start + step * self.step_time <= s
        ][-KEPT_CHECKPOINTS:]
        out = []
        for step in reversed(reached):
            metrics = self.plan.metric(step).checkpoint_metrics()
            out.append(
                {
                    "object": "fine_tuning.job.checkpoint",
                    "id": "ftckpt_" + digest(f"{self.id}:ckpt:{step}", 24),
                    "created_at": int(self.real(self.run_start + step * self.step_time)),
                    "fine_tuned_model_checkpoint": self.checkpoint_name(step),
                    "fine_tuning_job_id": self.id,
                    "metrics": metrics,
                    "step_number": step,
                }
            )
        return out


def dump(value: Any) -> bytes:
    """JSON as Starlette's JSONResponse writes it (compact, UTF-8, no NaN)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def digest(text: str, length: int) -> str:
    raw = int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")
    out = []
    for _ in range(length):
        raw, index = divmod(raw, len(_ALNUM))
        out.append(_ALNUM[index])
    return "".join(out)
