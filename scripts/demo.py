"""`make demo`: the book's fine-tuning walkthrough, replayed through ftctl against the offline mock.

Starts `ftctl mock serve` on a free loopback port, then runs each step of the walkthrough as a real
`ftctl` command in a scratch copy of the book's data, echoing it as the book shows it (with the
book's original `openai` command beside it). The server is stopped however the demo ends.

    .venv/bin/python scripts/demo.py [--speed 10] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BOOK_DATA = ROOT / "fixtures" / "book" / "train_data.json"
# Only a fallback for a checkout that predates fixtures/book/.
SHARED_BOOK_DATA = ROOT.parent / "shared" / "book" / "train_data.json"
API_KEY = "sk-mock-demo"
START_TIMEOUT = 20.0
STEP_TIMEOUT = 60.0

BOLD = "\033[1m" if sys.stdout.isatty() and not os.environ.get("NO_COLOR") else ""
DIM = "\033[2m" if BOLD else ""
RESET = "\033[0m" if BOLD else ""


class DemoError(Exception):
    pass


def say(text: str = "") -> None:
    print(text, flush=True)


def ftctl_command() -> list[str]:
    script = Path(sys.executable).parent / "ftctl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ftctl"]


def book_data() -> Path:
    for candidate in (BOOK_DATA, SHARED_BOOK_DATA):
        if candidate.is_file():
            return candidate
    raise DemoError(f"the book's data is missing: {BOOK_DATA}")


class MockServer:
    """`ftctl mock serve --port 0` as a child process; its log goes to a file."""

    def __init__(self, speed: float, log_path: Path) -> None:
        self.speed = speed
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def start(self) -> str:
        command = [
            *ftctl_command(),
            "mock",
            "serve",
            "--port",
            "0",  # the server picks a free port and prints it
            "--speed",
            str(self.speed),
        ]
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        if not match:
            raise DemoError(f"the mock did not start: {line.strip() or self.log_path.read_text()}")
        self.base_url = match.group(1)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                response = httpx.get(
                    f"{self.base_url}/models",
                    headers={"Authorization": f"Bearer {API_KEY}"},
                    timeout=2,
                )
                if response.status_code == 200:
                    return self.base_url
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise DemoError(f"the mock is not answering; see {self.log_path}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


class Walkthrough:
    def __init__(self, workdir: Path, base_url: str) -> None:
        self.workdir = workdir
        self.base_url = base_url
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OPENAI_", "FTCTL_")) or k == "FTCTL_DEBUG"
        }
        self.env |= {
            "OPENAI_BASE_URL": base_url,
            "OPENAI_API_KEY": API_KEY,
            "FTCTL_POLL_INTERVAL": "0.2",
            "XDG_STATE_HOME": str(workdir / "state"),  # ftctl's upload record, kept apart
        }

    def run(self, args: Sequence[str], *, book: str | None = None, expect: int = 0) -> None:
        """Echo and run one `ftctl` command; its output passes straight through, live."""
        say()
        if book:
            say(f"{DIM}# the book: $ {book}{RESET}")
        shown = " ".join(_quote(a) for a in args)
        say(f"{BOLD}$ ftctl {shown}{RESET}")
        result = subprocess.run(
            [*ftctl_command(), *args],
            check=False,
            stdin=subprocess.DEVNULL,  # never a prompt, even when the demo runs on a terminal
            cwd=self.workdir,
            env=self.env,
            timeout=STEP_TIMEOUT,
        )
        if result.returncode != expect:
            raise DemoError(f"`ftctl {shown}` exited {result.returncode}, expected {expect}")

    def api(self, path: str) -> dict[str, object]:
        response = httpx.get(
            self.base_url + path, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
        )
        response.raise_for_status()
        body = response.json()
        assert isinstance(body, dict)
        return body

    def newest_job(self) -> dict[str, object]:
        data = self.api("/fine_tuning/jobs?limit=1")["data"]
        assert isinstance(data, list) and data
        job = data[0]
        assert isinstance(job, dict)
        return job

    def story(self) -> None:
        say(f"{BOLD}## Preparing the data{RESET}")
        self.run(
            ["prepare", "-f", "train_data.json", "-q"],
            book="openai tools fine_tunes.prepare_data -f train_data.json",
        )
        if not (self.workdir / "train_data_prepared.jsonl").is_file():
            raise DemoError("prepare did not write train_data_prepared.jsonl")

        say()
        say(f"{BOLD}## Creating the fine-tuned model{RESET}")
        self.run(
            [
                "create",
                "-t",
                "train_data_prepared.jsonl",
                "-m",
                "davinci-002",
                "--no-follow",
                "--yes",
            ],
            book="openai api fine_tunes.create -t train_data_prepared.jsonl -m davinci",
        )
        job_id = str(self.newest_job()["id"])
        self.run(["follow", "-i", job_id], book=f"openai api fine_tunes.follow -i {job_id}")
        self.run(["list"], book="openai api fine_tunes.list")
        self.run(["get", "-i", job_id], book=f"openai api fine_tunes.get -i {job_id}")
        job = self.api(f"/fine_tuning/jobs/{job_id}")
        if job["status"] != "succeeded":
            raise DemoError(f"the job ended {job['status']}")
        model = str(job["fine_tuned_model"])

        say()
        say(f"{BOLD}## Cancelling a job (a second one, started for the purpose){RESET}")
        # ftctl reuses the file uploaded above (same content); 50 epochs keep the job running
        # long enough to cancel it, however loaded the machine.
        self.run(
            [
                *["create", "-t", "train_data_prepared.jsonl", "-m", "davinci-002"],
                *["--n-epochs", "50", "--no-follow", "--yes"],
            ]
        )
        spare_id = str(self.newest_job()["id"])
        self.run(["cancel", "-i", spare_id], book=f"openai api fine_tunes.cancel -i {spare_id}")

        say()
        say(f"{BOLD}## Using the fine-tuned model{RESET}")
        self.run(
            ["complete", "-m", model, "Secrets Unveiled ->", "--max-tokens", "30"],
            book="curl https://api.openai.com/v1/completions -d "
            f'\'{{"prompt": "Secrets Unveiled ->", "max_tokens": 30, "model": "{model}"}}\'',
        )
        say(
            f'{DIM}# prepare advised stop=["."]: the answer then ends where the training did{RESET}'
        )
        self.run(
            ["complete", "-m", model, "Secrets Unveiled ->", "--max-tokens", "30", "--stop", "."]
        )

        say()
        say(f"{BOLD}## Deleting the fine-tuned model{RESET}")
        self.run(["delete", "-i", model, "--yes"], book=f"openai api models.delete -i {model}")
        models = self.api("/models")["data"]
        assert isinstance(models, list)
        if any(isinstance(m, dict) and m.get("id") == model for m in models):
            raise DemoError(f"{model} is still listed after delete")


def _quote(arg: str) -> str:
    return f'"{arg}"' if not arg or re.search(r"[\s\"'$>]", arg) else arg


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--speed", type=float, default=10.0, help="mock pace (10: the job trains in ~2 s)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)

    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="ftctl-demo-"))
    server = MockServer(args.speed, workdir / "mock.log")
    try:
        shutil.copyfile(book_data(), workdir / "train_data.json")
        base_url = server.start()
        say(
            f"{DIM}# ftctl mock serving {base_url} (speed {args.speed:g}); "
            f"OPENAI_BASE_URL and OPENAI_API_KEY point ftctl at it{RESET}"
        )
        say(f"{DIM}# working in {workdir} on a copy of the book's train_data.json{RESET}")
        Walkthrough(workdir, base_url).story()
    except (DemoError, subprocess.TimeoutExpired) as exc:
        say()
        say(f"demo failed: {exc}")
        log = workdir / "mock.log"
        if log.is_file():
            say("--- mock server log (last 20 lines) ---")
            say("\n".join(log.read_text().splitlines()[-20:]))
        return 1
    except KeyboardInterrupt:
        say("\ninterrupted")
        return 130
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    say()
    say(
        f"{DIM}# the book's walkthrough, end to end, in {time.monotonic() - started:.1f} s; "
        f"the mock has stopped{RESET}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
