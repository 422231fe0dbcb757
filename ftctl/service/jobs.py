"""Fine-tuning jobs: create, list, retrieve, cancel, pause, resume, events, and following."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from ftctl.errors import FtctlError
from ftctl.exit_codes import ExitCode
from ftctl.service._raw import json_object, merge_pages

if TYPE_CHECKING:
    import openai

T = TypeVar("T")

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})

# Statuses for which a retry is safe and likely to help (the SDK's own list).
_TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


Method = Literal["supervised", "dpo", "reinforcement"]
SUPERVISED: Final = "supervised"
DPO: Final = "dpo"
REINFORCEMENT: Final = "reinforcement"
REASONING_EFFORTS = ("default", "low", "medium", "high")


@dataclass(frozen=True)
class Range:
    """A hyperparameter's accepted values, as the API's description states them."""

    low: float | None = None
    high: float | None = None
    low_exclusive: bool = False

    def admits(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_exclusive else value < self.low):
            return False
        return self.high is None or value <= self.high

    def text(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'greater than' if self.low_exclusive else 'at least'} {self.low:g}")
        if self.high is not None:
            parts.append(f"at most {self.high:g}")
        return " and ".join(parts)


# FineTune{Supervised,DPO,Reinforcement}Hyperparameters in the OpenAPI description; the methods
# that take each (a hyperparameter another method lacks is refused, not silently dropped).
HYPERPARAMETER_RANGES: dict[str, Range] = {
    "n_epochs": Range(1, 50),
    "batch_size": Range(1, 256),
    "learning_rate_multiplier": Range(0, None, low_exclusive=True),
    "beta": Range(0, 2, low_exclusive=True),
    "compute_multiplier": Range(0.00001, 10, low_exclusive=True),
    "eval_interval": Range(1, None),
    "eval_samples": Range(1, None),
}
_COMMON = ("n_epochs", "batch_size", "learning_rate_multiplier")
METHOD_HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    SUPERVISED: _COMMON,
    DPO: (*_COMMON, "beta"),
    REINFORCEMENT: (
        *_COMMON,
        "reasoning_effort",
        "compute_multiplier",
        "eval_interval",
        "eval_samples",
    ),
}


class HyperparameterError(FtctlError):
    """A hyperparameter out of the API's range, or one the job's method does not take."""

    exit_code = ExitCode.USAGE

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class Hyperparameters:
    n_epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    beta: float | None = None  # dpo
    reasoning_effort: str | None = None  # reinforcement, and the three below
    compute_multiplier: float | None = None
    eval_interval: int | None = None
    eval_samples: int | None = None

    def to_api(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}

    def check_ranges(self) -> None:
        """Refuse, before anything is sent, a value the API would refuse (the error names the
        field)."""
        for name, value in self.to_api().items():
            if name == "reasoning_effort":
                if value not in REASONING_EFFORTS:
                    raise HyperparameterError(
                        name, f"{name} must be one of {', '.join(REASONING_EFFORTS)}, got {value!r}"
                    )
                continue
            allowed = HYPERPARAMETER_RANGES[name]
            if not allowed.admits(value):
                raise HyperparameterError(
                    name, f"{name} must be {allowed.text()} (the API's range), got {value:g}"
                )

    def check_method(self, method: str) -> None:
        """Refuse a hyperparameter the job's method does not take (rather than drop it)."""
        taken = METHOD_HYPERPARAMETERS[method]
        for name in self.to_api():
            if name not in taken:
                owners = [m for m, names in METHOD_HYPERPARAMETERS.items() if name in names]
                raise HyperparameterError(
                    name, f"{name} is a {' and '.join(owners)} hyperparameter, not {method}"
                )


@dataclass(frozen=True)
class Wandb:
    """The Weights and Biases integration: where the job's metrics go."""

    project: str
    entity: str | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        wandb: dict[str, Any] = {"project": self.project}
        if self.entity:
            wandb["entity"] = self.entity
        if self.name:
            wandb["name"] = self.name
        if self.tags:
            wandb["tags"] = list(self.tags)
        return {"type": "wandb", "wandb": wandb}


@dataclass(frozen=True)
class JobRequest:
    model: str
    training_file: str
    validation_file: str | None = None
    suffix: str | None = None
    method: Method = SUPERVISED
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    grader: dict[str, Any] | None = None  # reinforcement only
    wandb: Wandb | None = None
    seed: int | None = None
    metadata: dict[str, str] | None = None

    def body(self) -> dict[str, Any]:
        """The request body: hyperparameters go in `method.<type>`, not the deprecated top
        level; a reinforcement job's grader beside them."""
        body: dict[str, Any] = {"model": self.model, "training_file": self.training_file}
        if self.validation_file:
            body["validation_file"] = self.validation_file
        if self.suffix:
            body["suffix"] = self.suffix
        if self.seed is not None:
            body["seed"] = self.seed
        if self.metadata:
            body["metadata"] = self.metadata
        if self.wandb is not None:
            body["integrations"] = [self.wandb.to_api()]
        settings: dict[str, Any] = {}
        if self.method == REINFORCEMENT and self.grader is not None:
            settings["grader"] = self.grader
        if hyper := self.hyperparameters.to_api():
            settings["hyperparameters"] = hyper
        body["method"] = {"type": self.method, self.method: settings}
        return body


def is_transient(exc: BaseException) -> bool:
    """Errors worth waiting out while following: the network, timeouts, 408/409/429/5xx."""
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    return isinstance(exc, openai.APIStatusError) and (
        exc.status_code in _TRANSIENT_STATUS or exc.status_code >= 500
    )


def retry_after_seconds(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class CreateMayHaveSucceeded(FtctlError):
    """A create request failed in a way that leaves unknown whether the job exists."""


@dataclass(frozen=True)
class EventItem:
    event: dict[str, Any]


@dataclass(frozen=True)
class StatusItem:
    job: dict[str, Any]


@dataclass(frozen=True)
class RetryItem:
    error: BaseException
    delay: float
    attempt: int


@dataclass(frozen=True)
class FinishedItem:
    job: dict[str, Any]


FollowItem = EventItem | StatusItem | RetryItem | FinishedItem


class JobsService:
    def __init__(
        self, client: openai.OpenAI, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self._sleep = sleep

    # -- single requests -------------------------------------------------------------------
    def create(self, request: JobRequest) -> dict[str, Any]:
        """POST the job. The SDK would retry a 5xx POST blindly and could create two jobs, so only
        retries that are known safe happen here: 429 (refused, not processed) and connection
        failures before any byte was sent."""
        import httpx
        import openai

        body = request.body()
        once = self._client.with_options(max_retries=0)
        attempts = self._client.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                raw = once.fine_tuning.jobs.with_raw_response.create(**body)
                return json_object(raw)
            except openai.RateLimitError as exc:
                if attempt == attempts:
                    raise
                wait = retry_after_seconds(exc)
                self._sleep(min(2.0**attempt, 30.0) if wait is None else wait)
            except openai.APIConnectionError as exc:
                never_sent = isinstance(exc.__cause__, httpx.ConnectError)
                if never_sent and attempt < attempts:
                    self._sleep(min(2.0**attempt, 30.0))
                    continue
                if never_sent:
                    raise
                raise CreateMayHaveSucceeded(
                    f"the create request failed after it was sent ({exc.message})",
                    hint="the job may exist: check `ftctl list --limit 5` before creating again",
                ) from exc
            except openai.APIStatusError as exc:
                if exc.status_code < 500:
                    raise
                raise CreateMayHaveSucceeded(
                    f"the service failed while creating the job (HTTP {exc.status_code}, "
                    f"request {exc.request_id or '-'})",
                    hint="the job may exist: check `ftctl list --limit 5` before creating again",
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def retrieve(self, job_id: str) -> dict[str, Any]:
        return json_object(self._client.fine_tuning.jobs.with_raw_response.retrieve(job_id))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return json_object(self._client.fine_tuning.jobs.with_raw_response.cancel(job_id))

    def pause(self, job_id: str) -> dict[str, Any]:
        return json_object(self._client.fine_tuning.jobs.with_raw_response.pause(job_id))

    def resume(self, job_id: str) -> dict[str, Any]:
        return json_object(self._client.fine_tuning.jobs.with_raw_response.resume(job_id))

    def list_page(
        self,
        *,
        limit: int | None = None,
        after: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One page, newest first; `metadata` is the API's own filter (`metadata[k]=v`)."""
        import openai

        raw = self._client.fine_tuning.jobs.with_raw_response.list(
            limit=limit if limit is not None else openai.omit,
            after=after if after is not None else openai.omit,
            metadata=metadata if metadata else openai.omit,
        )
        return json_object(raw)

    def list_all(
        self, *, page_size: int = 100, metadata: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Every page merged under `data`, in the API's order (newest first)."""
        return merge_pages(
            lambda after: self.list_page(limit=page_size, after=after, metadata=metadata)
        )

    def list_matching(
        self,
        keep: Callable[[dict[str, Any]], bool],
        *,
        limit: int | None,
        page_size: int = 100,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Jobs `keep` accepts (filters the API lacks), newest first, read page by page until
        `limit` of them are found (None: every page). The first page's object, `data` replaced;
        `has_more` says whether more pages were left unread."""
        first = self.list_page(limit=page_size, metadata=metadata)
        merged = dict(first)
        page, found = first, [job for job in first.get("data") or [] if keep(job)]
        while page.get("has_more") and page.get("data") and (limit is None or len(found) < limit):
            page = self.list_page(limit=page_size, after=page["data"][-1]["id"], metadata=metadata)
            found.extend(job for job in page.get("data") or [] if keep(job))
        merged["data"] = found if limit is None else found[:limit]
        merged["has_more"] = bool(page.get("has_more")) or (
            limit is not None and len(found) > limit
        )
        return merged

    def events_page(
        self, job_id: str, *, limit: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        import openai

        raw = self._client.fine_tuning.jobs.with_raw_response.list_events(
            job_id,
            limit=limit if limit is not None else openai.omit,
            after=after if after is not None else openai.omit,
        )
        return json_object(raw)

    def events_all(self, job_id: str, *, page_size: int = 100) -> dict[str, Any]:
        """Every event of a job, newest first as the API lists them, in one page object."""
        return merge_pages(lambda after: self.events_page(job_id, limit=page_size, after=after))

    def checkpoints_page(
        self, job_id: str, *, limit: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        import openai

        raw = self._client.fine_tuning.jobs.checkpoints.with_raw_response.list(
            job_id,
            limit=limit if limit is not None else openai.omit,
            after=after if after is not None else openai.omit,
        )
        return json_object(raw)

    # -- events and following --------------------------------------------------------------
    def new_events(
        self, job_id: str, seen: set[str], *, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """Events not in `seen`, oldest first; marks them seen.

        The API lists events newest first and `after` pages towards older ones, so a poll reads
        pages until it meets an event it has already seen (or the beginning of the job).
        """
        fresh: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = self.events_page(job_id, limit=page_size, after=after)
            data = page.get("data") or []
            reached_seen = False
            for event in data:
                if event.get("id") in seen:
                    reached_seen = True
                    break
                fresh.append(event)
            if reached_seen or not data or not page.get("has_more"):
                break
            after = data[-1].get("id")
        fresh.reverse()
        seen.update(str(event.get("id")) for event in fresh)
        return fresh

    def follow(
        self,
        job_id: str,
        *,
        poll_interval: float = 5.0,
        interval: Callable[[dict[str, Any]], float] | None = None,
        max_backoff: float = 60.0,
        max_consecutive_failures: int | None = None,
    ) -> Iterator[FollowItem]:
        """Events as they arrive, status changes, retry notices, then the finished job.

        `interval(job)`, when given, is the wait before the next poll after seeing `job` (the
        CLI makes it adapt to the status); else `poll_interval` throughout.
        Transient failures are waited out with capped exponential backoff (honouring
        Retry-After); anything else propagates. Stopping the iteration never touches the job.
        """
        seen: set[str] = set()
        last_status: str | None = None

        def patiently(read: Callable[[], T]) -> Generator[RetryItem, None, T]:
            """`read()`, retried through transient failures, announcing each wait."""
            failures = 0
            while True:
                try:
                    return read()
                except Exception as exc:
                    failures += 1
                    if not is_transient(exc) or (
                        max_consecutive_failures is not None and failures > max_consecutive_failures
                    ):
                        raise
                    delay = retry_after_seconds(exc)
                    if delay is None:
                        delay = min(max_backoff, poll_interval * 2 ** (failures - 1))
                    yield RetryItem(exc, delay, failures)
                    self._sleep(delay)

        while True:
            # Events are yielded as soon as they are read (and so marked seen), before the
            # status call that may fail: a failure there must not swallow them.
            for event in (yield from patiently(lambda: self.new_events(job_id, seen))):
                yield EventItem(event)
            job = yield from patiently(lambda: self.retrieve(job_id))
            status = job.get("status")
            if status != last_status:
                last_status = status
                yield StatusItem(job)
            if status in TERMINAL_STATUSES:
                # Events written between the events call and the status call.
                for event in (yield from patiently(lambda: self.new_events(job_id, seen))):
                    yield EventItem(event)
                yield FinishedItem(job)
                return
            self._sleep(poll_interval if interval is None else interval(job))
