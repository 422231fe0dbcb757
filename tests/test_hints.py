"""The `next:` replay in `run_cli` can fail: a broken hint is caught, a working one passes."""

from __future__ import annotations

import pytest

from ftctl.cli.app import app
from tests.support.hints import check_next_commands, next_commands


def test_hints_are_read_from_backticks_and_after_with() -> None:
    stderr = (
        "Error: something\n"
        "  next: run `ftctl get -i ftjob-1` or `ftctl list`\n"
        "Interrupted: stopped\n"
        "  next: resume with: ftctl follow -i ftjob-2\n"
        "a line that mentions `ftctl cancel` without the marker\n"
    )
    assert next_commands(stderr) == [
        ["get", "-i", "ftjob-1"],
        ["list"],
        ["follow", "-i", "ftjob-2"],
    ]


def test_a_hint_that_reaches_the_api_passes(env: dict[str, str]) -> None:
    check_next_commands(app, "  next: check `ftctl list --limit 5`\n")


@pytest.mark.parametrize(
    "hint",
    [
        "  next: run `ftctl get`\n",  # missing id: a usage error
        "  next: run `ftctl list --limit 0`\n",  # out of range: does not parse
        "  next: run `ftctl no-such-command`\n",
    ],
)
def test_a_hint_that_cannot_work_fails(env: dict[str, str], hint: str) -> None:
    with pytest.raises(AssertionError, match="does not"):
        check_next_commands(app, hint)


def test_templates_are_parsed_not_run(env: dict[str, str]) -> None:
    check_next_commands(
        app, "  next: fix the data (`ftctl prepare -f FILE`) and create a new job\n"
    )
    with pytest.raises(AssertionError, match="does not parse"):
        check_next_commands(app, "  next: `ftctl prepare --no-such-flag FILE`\n")
