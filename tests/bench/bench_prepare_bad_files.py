"""A 2 GB JSON Lines file with no newline: prepare refuses line 1 with flat memory."""

from __future__ import annotations

from tests.bench import _harness as h

DESCRIPTION = (
    "a 2 GB .jsonl with no newline (sparse: zeros): ftctl prepare and create's check refuse "
    "line 1 without reading it whole (targets: exit 2 naming line 1, peak RSS <= 256 MB; "
    "before: 4.2 GB, issue 13)"
)
SIZE = 2 << 30
MAX_RSS_MB = 256


def run() -> bool:
    where = h.fresh_dir("prepare-bad-files")
    path = where / "one_line.jsonl"
    with path.open("wb") as fh:
        fh.truncate(SIZE)  # sparse: no disk space used, reads return zeros
    print(f"  data: {path} ({SIZE / 1e9:.1f} GB, no newline)", flush=True)
    runs = [
        h.measure(
            "ftctl prepare -q (prompt/completion rules)",
            [h.PYTHON, "-m", "ftctl", "prepare", "-q", "-f", str(path)],
        ),
        h.measure(
            "ftctl prepare --json -m gpt-4o-mini (chat rules)",
            [
                h.PYTHON,
                "-m",
                "ftctl",
                "prepare",
                "--json",
                "-m",
                "gpt-4o-mini-2024-07-18",
                str(path),
            ],
        ),
    ]
    print(h.table(runs))
    ok = True
    for r in runs:
        first_error = next((x for x in r.stderr.splitlines() if x.startswith("Error: ")), "")
        ok &= h.check(
            r.label,
            r.returncode == 2
            and f"{path}:1: the line is longer than" in first_error
            and r.max_rss_mb <= MAX_RSS_MB,
            f"exit {r.returncode}, {r.wall_s:.2f} s, max RSS {r.max_rss_mb:.0f} MB: "
            f"{first_error[:90]}",
        )
    path.unlink()
    return ok
