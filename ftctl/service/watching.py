"""Following several jobs at once: one thread per job runs `JobsService.follow`, and their items
arrive on one queue, tagged with the job id, in the order they happen.

Stopping the iteration (or Ctrl-C in the reader) stops every follower at its next wait; no job is
ever touched.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ftctl.service.jobs import DEFAULT_GIVE_UP_AFTER, FollowItem, JobsService

if TYPE_CHECKING:
    import openai


@dataclass(frozen=True)
class Failed:
    """A follower stopped on an error that is not worth waiting out."""

    error: BaseException


@dataclass(frozen=True)
class Ended:
    """A follower has nothing more to say (after its FinishedItem, or its Failed)."""


Tagged = tuple[str, FollowItem | Failed | Ended]


def follow_many(
    client: openai.OpenAI,
    job_ids: list[str],
    *,
    poll_interval: float,
    interval: Callable[[dict[str, Any]], float] | None = None,
    give_up_after: float | None = DEFAULT_GIVE_UP_AFTER,
) -> Generator[Tagged, None, None]:
    """(job id, item) from every job until each has ended."""
    items: queue.Queue[Tagged] = queue.Queue()
    stop = threading.Event()

    def run(job_id: str) -> None:
        def wait(seconds: float) -> None:
            stop.wait(seconds)  # returns at once when the reader has gone

        service = JobsService(client, sleep=wait)
        try:
            followed = service.follow(
                job_id, poll_interval=poll_interval, interval=interval, give_up_after=give_up_after
            )
            for item in followed:
                if stop.is_set():
                    return
                items.put((job_id, item))
        except Exception as exc:
            items.put((job_id, Failed(exc)))
        finally:
            items.put((job_id, Ended()))

    threads = [
        threading.Thread(target=run, args=(job_id,), name=f"follow {job_id}", daemon=True)
        for job_id in dict.fromkeys(job_ids)
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            job_id, item = items.get()
            if isinstance(item, Ended):
                running -= 1
            yield job_id, item
    finally:
        stop.set()
