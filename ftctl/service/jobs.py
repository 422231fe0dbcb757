"""Fine-tuning jobs: create, list, retrieve, cancel, pause, resume, events, and following."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from ftctl.client import wait_reason
from ftctl.errors import FtctlError, Interrupted, UsageError
from ftctl.exit_codes import ExitCode
from ftctl.hyperparameters import METHOD_HYPERPARAMETERS, RANGES, REASONING_EFFORTS
from ftctl.service._raw import json_object, merge_pages, pages
from ftctl.service._retry import (
    TRANSIENT_STATUS,
    backoff,
    is_transient,
    retry_after_seconds,
    settle,
)

if TYPE_CHECKING:
    import openai

T = TypeVar("T")

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})

# The metadata key of the client token each create carries, so that a create whose answer was
# lost can be found again (GET /fine_tuning/jobs?metadata[ftctl_request]=TOKEN).
REQUEST_TOKEN_KEY = "ftctl_request"
_MAX_METADATA_PAIRS = 16  # the API's limit

# How long `follow` waits out an outage (no answer, 5xx, 429) before giving up.
DEFAULT_GIVE_UP_AFTER = 900.0

Notify = Callable[[str], None]


def wait_seconds(seconds: float) -> None:
    """Sleep; the default `sleep` of the service, looked up at call time so tests can stub it."""
    time.sleep(seconds)


def now_seconds() -> float:
    """The default `clock` of the service (monotonic), looked up like wait_seconds."""
    return time.monotonic()


def _ignore(_text: str) -> None:
    pass


def new_request_token() -> str:
    return f"ftreq-{uuid.uuid4().hex}"


Method = Literal["supervised", "dpo", "reinforcement"]
SUPERVISED: Final = "supervised"
DPO: Final = "dpo"
REINFORCEMENT: Final = "reinforcement"


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
            allowed = RANGES[name]
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


class CreateMayHaveSucceeded(FtctlError):
    """A create request failed in a way that leaves unknown whether the job exists, and the
    lookup by its token could not tell."""


class CreateFailed(FtctlError):
    """A create request failed and the lookup by its token showed that no job exists."""


class CreateInterrupted(Interrupted):
    """Ctrl-C while a create was in flight; `job` is the job found by its token, if any."""

    def __init__(self, message: str, *, hint: str | None, job: dict[str, Any] | None) -> None:
        super().__init__(message, hint=hint)
        self.job = job


class ServiceUnreachable(FtctlError):
    """`follow` gave up: the service did not answer for longer than it was told to wait."""


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


def _check_hint(token: str) -> str:
    return (
        f"look for metadata {REQUEST_TOKEN_KEY}={token} in `ftctl list --limit 5 --json` "
        "before creating again"
    )


class JobsService:
    def __init__(
        self,
        client: openai.OpenAI,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._client = client
        self._sleep = sleep or wait_seconds
        self._clock = clock or now_seconds

    # -- single requests -------------------------------------------------------------------
    def create(
        self, request: JobRequest, *, token: str | None = None, notify: Notify = _ignore
    ) -> dict[str, Any]:
        """POST the job exactly once, whatever happens to the answer.

        The body carries a client token in `metadata[ftctl_request]`. A refusal the server did
        not act on (429, a connection never made) is retried after a bounded wait. Every other
        end that leaves the outcome unknown (no answer, a timeout, 408/409/5xx, Ctrl-C while the
        request is in flight) is settled by looking the job up by its token: a job found is
        returned as if the POST had answered; a job certainly absent is retried; a lookup that
        cannot run raises CreateMayHaveSucceeded (or Interrupted) saying how to check.
        """

        token = token or new_request_token()
        body = request.body()
        metadata = {k: v for k, v in (body.get("metadata") or {}).items() if k != REQUEST_TOKEN_KEY}
        if len(metadata) >= _MAX_METADATA_PAIRS:
            raise UsageError(
                f"at most {_MAX_METADATA_PAIRS - 1} --metadata pairs: ftctl adds "
                f"{REQUEST_TOKEN_KEY} to find the job again if the answer is lost"
            )
        body["metadata"] = {**metadata, REQUEST_TOKEN_KEY: token}
        try:
            return self._post_until_settled(body, token, notify)
        except KeyboardInterrupt:
            raise self._interrupted_create(token) from None

    def _post_until_settled(
        self, body: dict[str, Any], token: str, notify: Notify
    ) -> dict[str, Any]:
        import httpx
        import openai

        once = self._client.with_options(max_retries=0)
        attempts = self._client.max_retries + 1
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                raw = once.fine_tuning.jobs.with_raw_response.create(**body)
                return json_object(raw)
            except openai.RateLimitError as exc:
                # Refused before any work: nothing was created.
                if last:
                    raise
                self._wait(notify, wait_reason(exc.response), retry_after_seconds(exc), attempt)
                continue
            except openai.APIConnectionError as exc:
                if not is_transient(exc):
                    raise
                if isinstance(exc.__cause__, httpx.ConnectError):  # never sent
                    if last:
                        raise
                    self._wait(notify, "cannot connect", None, attempt)
                    continue
                error: Exception = exc
                reason = "no answer" if type(exc) is openai.APIConnectionError else "timed out"
            except openai.APIStatusError as exc:
                if exc.status_code < 500 and exc.status_code not in TRANSIENT_STATUS:
                    raise
                error = exc
                reason = f"HTTP {exc.status_code}, request {exc.request_id or '-'}"
            notify(f"the create request ended without a job ({reason}): looking it up by {token}")
            job = self._find_created(token, error, notify)
            if job is not None:
                notify(f"found job {job.get('id')}: the request did create it")
                return job
            if last:
                raise CreateFailed(
                    f"the create request failed ({reason}) and no job was created",
                    hint="nothing to clean up for the job: run the same command again",
                ) from error
            notify(f"no job was created: sending the request again in {backoff(attempt):.0f} s")
            self._sleep(backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, notify: Notify, reason: str, asked: float | None, attempt: int) -> None:
        seconds = backoff(attempt) if asked is None else asked
        if seconds > 1.0:
            notify(f"{reason}: retrying in {seconds:.0f} s")
        self._sleep(seconds)

    def find_by_token(self, token: str, *, patient: bool = True) -> dict[str, Any] | None:
        """The job created with this client token, or None if there is none. Raises what the
        lookup raised if it could not run. The token is checked here too, so a server that
        ignores the metadata filter cannot make ftctl adopt someone else's job."""
        client = self._client if patient else self._client.with_options(max_retries=0, timeout=10)
        raw = client.fine_tuning.jobs.with_raw_response.list(
            limit=20, metadata={REQUEST_TOKEN_KEY: token}
        )
        for job in json_object(raw).get("data") or []:
            if (
                isinstance(job, dict)
                and (job.get("metadata") or {}).get(REQUEST_TOKEN_KEY) == token
            ):
                return job
        return None

    def _find_created(self, token: str, error: Exception, notify: Notify) -> dict[str, Any] | None:
        return settle(
            lambda: self.find_by_token(token),
            cause=error,
            give_up=lambda exc: CreateMayHaveSucceeded(
                "the create request got no clear answer and the job could not be "
                f"looked up ({type(exc).__name__}): it may exist",
                hint=_check_hint(token),
            ),
            retrying="the lookup failed too",
            notify=notify,
            sleep=self._sleep,
        )

    def _interrupted_create(self, token: str) -> CreateInterrupted:
        """Ctrl-C while the POST was in flight: say whether the job exists (one quick lookup;
        a second Ctrl-C skips it)."""
        try:
            job = self.find_by_token(token, patient=False)
        except (Exception, KeyboardInterrupt):
            return CreateInterrupted(
                "interrupted while creating the job: it may exist",
                hint=_check_hint(token),
                job=None,
            )
        if job is None:
            return CreateInterrupted(
                "interrupted before the job was created: no job exists",
                hint="run the same command again",
                job=None,
            )
        job_id = job.get("id")
        return CreateInterrupted(
            f"interrupted, but the job was created: {job_id} (status {job.get('status')})",
            hint=f"follow it with: ftctl follow -i {job_id}",
            job=job,
        )

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
        self,
        *,
        page_size: int = 100,
        metadata: dict[str, str] | None = None,
        notify: Notify = _ignore,
    ) -> dict[str, Any]:
        """Every page merged under `data`, in the API's order (newest first); a server that
        repeats a page cannot make it loop (see `pages`)."""
        return merge_pages(
            lambda after: self.list_page(limit=page_size, after=after, metadata=metadata),
            notify=notify,
        )

    def list_matching(
        self,
        keep: Callable[[dict[str, Any]], bool],
        *,
        limit: int | None,
        page_size: int = 100,
        metadata: dict[str, str] | None = None,
        notify: Notify = _ignore,
    ) -> dict[str, Any]:
        """Jobs `keep` accepts (filters the API lacks), newest first, read page by page until
        `limit` of them are found (None: every page). The first page's object, `data` replaced;
        `has_more` says whether more were left unread."""
        merged: dict[str, Any] = {}
        found: list[dict[str, Any]] = []
        more = False
        for page in pages(
            lambda after: self.list_page(limit=page_size, after=after, metadata=metadata),
            notify=notify,
        ):
            merged = merged or dict(page)
            found.extend(job for job in page.get("data") or [] if keep(job))
            more = bool(page.get("has_more"))
            if limit is not None and len(found) >= limit:
                break
        merged["data"] = found if limit is None else found[:limit]
        merged["has_more"] = more or (limit is not None and len(found) > limit)
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
        fresh_ids: set[str] = set()
        after: str | None = None
        while True:
            page = self.events_page(job_id, limit=page_size, after=after)
            data = page.get("data") or []
            stop = False
            for event in data:
                event_id = str(event.get("id"))
                # An id seen before ends the poll: either where the last poll stopped, or a
                # server repeating a page because it ignores `after`.
                if event_id in seen or event_id in fresh_ids:
                    stop = True
                    break
                fresh.append(event)
                fresh_ids.add(event_id)
            next_after = data[-1].get("id") if data else None
            if stop or not data or not page.get("has_more") or next_after == after:
                break
            after = next_after
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
        give_up_after: float | None = DEFAULT_GIVE_UP_AFTER,
    ) -> Iterator[FollowItem]:
        """Events as they arrive, status changes, retry notices, then the finished job.

        `interval(job)`, when given, is the wait before the next poll after seeing `job` (the
        CLI makes it adapt to the status); else `poll_interval` throughout.
        Transient failures are waited out with capped exponential backoff (honouring
        Retry-After up to `max_backoff`) for at most `give_up_after` seconds of outage, then
        ServiceUnreachable; anything else propagates. Stopping the iteration never touches
        the job.
        """
        seen: set[str] = set()
        last_status: str | None = None

        def patiently(read: Callable[[], T]) -> Generator[RetryItem, None, T]:
            """`read()`, retried through transient failures, announcing each wait."""
            failures = 0
            outage_began = 0.0
            while True:
                try:
                    return read()
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    failures += 1
                    if failures == 1:
                        outage_began = self._clock()
                    waited = self._clock() - outage_began
                    if give_up_after is not None and waited >= give_up_after:
                        raise ServiceUnreachable(
                            f"gave up on job {job_id} after {waited:.0f} s without an answer "
                            f"({failures} failed reads); the job itself goes on"
                        ) from exc
                    delay = retry_after_seconds(exc, cap=max_backoff)
                    if delay is None:
                        # At least a second between failed reads, even with --poll-interval 0.
                        base = max(poll_interval, 1.0)
                        delay = min(max_backoff, base * 2.0 ** min(failures - 1, 16))
                    if give_up_after is not None:
                        delay = min(delay, give_up_after - waited)
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
