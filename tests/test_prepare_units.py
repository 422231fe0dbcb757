"""Pure pieces of ftctl.prepare: readers, writer, token counting, statistics, prices."""

from __future__ import annotations

import itertools
import json
import os
import statistics
from pathlib import Path

import pytest

from ftctl import pricing
from ftctl.errors import InputError, UsageError
from ftctl.prepare import readers
from ftctl.prepare.legacy.fixes import split_sizes
from ftctl.prepare.legacy.gather import case_counts, common_prefix, common_suffix
from ftctl.prepare.records import TokenCounter
from ftctl.prepare.scan import scan_jsonl
from ftctl.prepare.stats import default_epochs, distribution, training_limit
from ftctl.prepare.writer import (
    AtomicWriter,
    prepared_names,
    prompt_completion_jsonl,
    split_names,
)
from ftctl.tokens import get_encoding

DATA = Path(__file__).parent / "data" / "prepare"
ASSISTANT = {"role": "assistant", "content": "hello there"}

SAMPLES = [
    "",
    "hello world",
    "  leading and trailing  ",
    "<|endoftext|> is ordinary text in training data",
    "<|fim_prefix|><|im_start|>",
    "naïve café — 東京 😀👍🏽 \u2028 \t\n\r",
    "x" * 5000,
    "def f(x):\n    return x ** 2  # 123456789",
]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_token_counts_are_tiktoken_encode_ordinary(name: str) -> None:
    enc = get_encoding(name)
    counter = TokenCounter(enc.encode_ordinary)
    for text in SAMPLES:
        expected = len(enc.encode_ordinary(text))
        assert counter.text(text) == expected
        assert counter.text(text) == expected  # cached short strings too
    assert enc.encode_ordinary("hello world") == enc.encode("hello world")


def test_message_count_follows_the_cookbook() -> None:
    enc = get_encoding("o200k_base")
    counter = TokenCounter(enc.encode_ordinary)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "name": "bob", "content": "Hi"},
        {"role": "assistant", "content": "Hello!", "weight": 1},
    ]
    n = len
    e = enc.encode_ordinary
    expected = (
        3 + n(e("system")) + n(e("Be brief."))
        + 3 + n(e("user")) + n(e("bob")) + 1 + n(e("Hi"))
        + 3 + n(e("assistant")) + n(e("Hello!"))
    )  # fmt: skip
    assert counter.messages(messages) == expected


def test_json_array_streams_across_chunk_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "_READ_CHUNK", 7)
    rows = [{"prompt": f"p{i}" + " ]},[", "completion": "c\n" * i} for i in range(20)]
    path = tmp_path / "a.json"
    path.write_text("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")
    src = readers.open_source(path)
    assert src.layout == "array"
    got = list(readers.iter_rows(src))
    assert [r for _, r in got] == rows
    assert [line for line, _ in got] == list(range(2, 22))


def test_json_array_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[\n{"prompt": "a", "completion": "b"},\n{"prompt": "a"\n')
    with pytest.raises(InputError, match=r"a\.json:3: not valid JSON"):
        list(readers.iter_rows(readers.open_source(path)))
    path.write_text('[\n{"prompt": "a", "completion": "b"}\n5\n]')
    with pytest.raises(InputError, match=r":3: expected `,` or `]`"):
        list(readers.iter_rows(readers.open_source(path)))


def test_values_become_text_as_the_legacy_tool_read_them(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"prompt": 12, "completion": null, "flag": true}\n')
    [(_, row)] = list(readers.iter_rows(readers.open_source(path)))
    assert row == {"prompt": "12", "completion": "", "flag": "True"}


def test_csv_quoting_and_duplicate_headers(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('prompt,completion,prompt\n"a, b","line1\nline2",x\n\nc,d,y\n')
    rows = list(readers.iter_rows(readers.open_source(path)))
    assert rows == [
        (2, {"prompt": "a, b", "completion": "line1\nline2", "prompt.1": "x"}),
        (5, {"prompt": "c", "completion": "d", "prompt.1": "y"}),
    ]


def test_txt_keeps_the_legacy_trailing_empty_line(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("one\ntwo\n")
    rows = [r["completion"] for _, r in readers.iter_rows(readers.open_source(path))]
    assert rows == ["one", "two", ""]


def test_pandas_spelling_of_json_lines() -> None:
    text = 'a/b "q" \\ \t\n\x01 é 😀 \u2028'
    assert prompt_completion_jsonl([(text, "c/d"), ("", " x")]) == (
        '{"prompt":"a\\/b \\"q\\" \\\\ \\t\\n\\u0001 é 😀 \u2028","completion":"c\\/d"}\n'
        '{"prompt":"","completion":" x"}\n'
    )


def test_output_names(tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    assert prepared_names(src, False) == [tmp_path / "data_prepared.jsonl"]
    assert prepared_names(src, True) == [
        tmp_path / "data_prepared_train.jsonl",
        tmp_path / "data_prepared_valid.jsonl",
    ]
    assert prepared_names(src, False, tag="_chat") == [tmp_path / "data_chat.jsonl"]
    assert split_names(tmp_path / "out.jsonl") == [
        tmp_path / "out_train.jsonl",
        tmp_path / "out_valid.jsonl",
    ]


def test_atomic_writer_appears_only_on_commit_and_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    writer = AtomicWriter(target)
    writer.write("new\n")
    assert not target.exists()
    target.write_text("someone else's\n")  # appears meanwhile
    with pytest.raises(FileExistsError):
        writer.commit()
    assert target.read_text() == "someone else's\n"
    forced = AtomicWriter(target, overwrite=True)
    forced.write("forced\n")
    assert forced.commit() == target
    assert target.read_text() == "forced\n"
    aborted = AtomicWriter(tmp_path / "gone.jsonl")
    aborted.write("x")
    aborted.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_outputs_follow_the_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0o027)
    try:
        writer = AtomicWriter(tmp_path / "out.jsonl")
        writer.write("x\n")
        path = writer.commit()
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640  # 0o666 less the umask, not mkstemp's 0o600


def test_case_counts_match_str_methods() -> None:
    for text in ["Hello World", "ÀÉÎ õü ß", "ǅ x Y 1 2", ""]:
        up = sum(1 for c in text if c.isalpha() and c.isupper())
        lo = sum(1 for c in text if c.isalpha() and c.islower())
        assert case_counts(text) == (up, lo)


def test_common_prefix_and_suffix() -> None:
    assert common_prefix("Book Summary: A", "Book Summary: B") == "Book Summary: "
    assert common_suffix("abc ->", "xyz ->") == " ->"
    assert common_suffix("same", "same") == "same"
    assert common_prefix("", "x") == ""


@pytest.mark.parametrize(
    ("n", "epochs"),
    [(1, 25), (3, 25), (10, 10), (33, 3), (34, 3), (100, 3), (8333, 3), (8334, 2), (30000, 1)],
)
def test_epochs_follow_the_cookbook(n: int, epochs: int) -> None:
    assert default_epochs(n) == epochs


def test_distribution_matches_numpy_style_quantiles() -> None:
    values = [5, 1, 9, 3, 7, 2]
    dist = distribution(values)
    assert dist is not None
    assert (dist.min, dist.max) == (1, 9)
    assert dist.median == statistics.median(values)
    qs = statistics.quantiles(values, n=20, method="inclusive")
    assert dist.p5 == pytest.approx(qs[0])
    assert dist.p95 == pytest.approx(qs[-1])
    assert distribution([]) is None


def test_limits_and_split_sizes() -> None:
    assert training_limit("gpt-4o-mini-2024-07-18") == 65_536
    assert training_limit("gpt-4o-2024-08-06") == 65_536
    assert training_limit("gpt-3.5-turbo-0125") == 16_385
    assert training_limit("ft:gpt-4o-mini-2024-07-18:org::abc") == 65_536
    assert split_sizes(30) == (24, 6)
    assert split_sizes(10_000) == (9_000, 1_000)


def test_price_table_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = {
        "gpt-4o-mini-2024-07-18": 3.0,
        "gpt-3.5-turbo-0125": 8.0,
        "gpt-4o-2024-08-06": 25.0,
        "gpt-4.1-2025-04-14": 25.0,
        "gpt-4.1-mini-2025-04-14": 5.0,
        "gpt-4.1-nano-2025-04-14": 1.5,
        "davinci-002": 6.0,
        "babbage-002": 0.4,
        "ft:gpt-4o-mini-2024-07-18:org::x": 3.0,
    }
    for model, price in expected.items():
        assert pricing.price_per_1m(model) == price, model
    assert pricing.price_per_1m("unknown-model") is None
    assert pricing.estimate_cost(1_000_000, "gpt-4o-mini") == 3.0
    assert pricing.PRICES_DATE.startswith("2025")
    path = tmp_path / "p.json"
    path.write_text('{"gpt-4o": 2}')
    monkeypatch.setenv("FTCTL_PRICES", str(path))
    overrides = pricing.load_overrides()
    assert pricing.price_per_1m("gpt-4o-2024-08-06", overrides) == 2.0
    assert pricing.price_per_1m("gpt-4o-mini", overrides) == 2.0  # the override prefix wins
    path.write_text('{"gpt-4o": "cheap"}')
    with pytest.raises(UsageError, match="must map model names"):
        pricing.load_overrides()


def test_parallel_scan_equals_serial_scan(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    lines = (DATA / "chat_bad.jsonl").read_text().splitlines()
    path.write_text("\n".join(lines * 40) + "\n")
    serial = scan_jsonl(path, "o200k_base", workers=1, chunk_bytes=1 << 30)
    parallel = scan_jsonl(path, "o200k_base", workers=2, chunk_bytes=3000)
    assert parallel.examples == serial.examples == len(lines) * 40
    assert parallel.counts == serial.counts
    assert parallel.samples == serial.samples
    assert list(parallel.tokens) == list(serial.tokens)
    assert list(parallel.messages) == list(serial.messages)


def _tokens_of_line(word: str, encoding_name: str) -> int:
    """A job for the workers' host: it runs in a worker forked from the host, with the counter."""
    from ftctl.prepare import engine

    counter = engine.token_counter(encoding_name)
    if word == "boom":
        raise ValueError(f"no tokens for {word} (pid {os.getpid()})")
    assert counter is not None
    return counter.text(word)


def test_hosted_jobs_answer_in_order_and_raise_here() -> None:
    from ftctl.prepare import engine

    words = ["hello", " world", "tokens", "naïve café", "東京"] * 3
    jobs = [(w, "o200k_base") for w in words]
    encoding = get_encoding("o200k_base")
    hosted = list(engine.run_hosted(_tokens_of_line, jobs, 2, "o200k_base"))
    assert hosted == [len(encoding.encode_ordinary(w)) for w in words]
    with pytest.raises(ValueError, match="no tokens for boom") as raised:
        list(engine.run_hosted(_tokens_of_line, [*jobs, ("boom", "o200k_base")], 2, "o200k_base"))
    assert f"(pid {os.getpid()})" not in str(raised.value)  # it ran in a worker


def _what_stdout_is(_job: int) -> tuple[int, int]:
    found = os.fstat(1)
    return found.st_dev, found.st_ino


def test_the_hosts_workers_do_not_hold_its_answers_open() -> None:
    # were the host killed, a worker holding the answers' pipe would keep the parent waiting
    from ftctl.prepare import engine

    ours = os.fstat(2)  # the host's stderr is this process's
    found = set(engine.run_hosted(_what_stdout_is, [(1,), (2,), (3,)], 2, "cl100k_base"))
    assert found == {(ours.st_dev, ours.st_ino)}


def test_a_host_that_dies_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from ftctl.prepare import engine

    monkeypatch.setattr(engine, "_HOST_CODE", "import os; os._exit(3)")
    with pytest.raises(engine.HostStopped, match=r"ended unexpectedly \(exit status 3\)"):
        list(engine.run_hosted(_tokens_of_line, [("a", "o200k_base")] * 2, 2, "o200k_base"))


def test_a_big_chat_file_is_counted_in_the_host_not_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ftctl import tokens
    from ftctl.prepare import engine

    line = json.dumps({"messages": [{"role": "user", "content": "hi " * 60}, ASSISTANT]})
    path = tmp_path / "big.jsonl"
    path.write_text((line + "\n") * (engine.PARALLEL_MIN_BYTES // len(line) + 1))
    monkeypatch.delenv("FTCTL_WORKERS", raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (99.0, 99.0, 99.0))  # one worker: still hosted
    monkeypatch.setattr(tokens, "_ordinary", {})
    monkeypatch.setattr(engine, "_counters", {})
    hosted = scan_jsonl(path, "o200k_base")
    assert tokens._ordinary == {}  # the encoder was never built in this process
    here = scan_jsonl(path, "o200k_base", workers=1)
    assert "o200k_base" in tokens._ordinary
    assert (hosted.examples, list(hosted.tokens)) == (here.examples, list(here.tokens))


def test_big_files_are_hosted_unless_one_process_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ftctl.prepare import engine

    big = engine.PARALLEL_MIN_BYTES
    monkeypatch.delenv("FTCTL_WORKERS", raising=False)
    assert not engine.hosted(big - 1)
    assert engine.hosted(big)
    assert not engine.hosted(big, requested=1)
    monkeypatch.setenv("FTCTL_WORKERS", "1")
    assert not engine.hosted(big)
    monkeypatch.setenv("FTCTL_WORKERS", "2")
    assert engine.hosted(big)


def _legacy_run(src_path: Path, workers: int, split_classes: bool) -> tuple[object, ...]:
    from ftctl.prepare import legacy
    from ftctl.prepare.writer import prepared_names

    source = readers.open_source(src_path)
    analysis = legacy.analyze(source, workers=workers)
    accepted = {a.key for a in analysis.actions}
    targets = prepared_names(src_path, split_classes)
    out = legacy.write_prepared(analysis, accepted, targets, encoding_name="cl100k_base")
    files = [p.read_bytes() for p in out.files]
    for p in out.files:
        p.unlink()
    stats = analysis.stats
    return (
        analysis.messages,
        [a.message for a in analysis.actions],
        stats.duplicate_rows,
        stats.long_rows,
        stats.empty_rows,
        files,
        out.tokens,
        out.valid_examples,
        out.prompt_suffix,
        out.completion_suffix,
    )


@pytest.mark.parametrize("classes", [False, True])
def test_parallel_legacy_passes_equal_serial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, classes: bool
) -> None:
    from ftctl.prepare import engine

    rows = []
    for i in range(900):
        completion = ("yes" if i % 3 else "no") if classes else f"Answer {i % 450} here"
        row = {"prompt": f"Q: item {i % 450} /path é", "completion": completion}
        if i == 123:
            row["completion"] = ""
        if i == 500:
            row["prompt"] = "P" * 10_001
        rows.append(row)
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    serial = _legacy_run(path, 1, classes)
    monkeypatch.setattr(engine, "CHUNK_BYTES", 2_000)
    parallel = _legacy_run(path, 2, classes)
    assert parallel == serial
    duplicates = serial[2]
    assert isinstance(duplicates, list) and len(duplicates) > 400  # rows repeat across chunks


def test_one_worker_rule_for_every_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from ftctl.prepare import engine

    big = engine.PARALLEL_MIN_BYTES
    monkeypatch.delenv("FTCTL_WORKERS", raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    assert engine.worker_count(big - 1) == 1
    assert engine.worker_count(big) == min(2, os.cpu_count() or 1)
    monkeypatch.setenv("FTCTL_WORKERS", "3")
    assert engine.worker_count(big) == 3
    assert engine.worker_count(big - 1) == 1  # small files are not worth a fork
    assert engine.worker_count(10, requested=2) == 2
    monkeypatch.setenv("FTCTL_WORKERS", "many")
    assert engine.worker_count(big) == min(2, os.cpu_count() or 1)
    busy = float(os.cpu_count() or 1)
    monkeypatch.setattr(os, "getloadavg", lambda: (busy, busy, busy))
    assert engine.worker_count(big) == 1  # every core busy: a second process only costs
    monkeypatch.setenv("FTCTL_WORKERS", "2")
    assert engine.worker_count(big) == 2  # unless asked for


def test_segments_end_on_newlines_and_cover_the_file(tmp_path: Path) -> None:
    from ftctl.prepare import engine

    path = tmp_path / "lines.jsonl"
    lines = [json.dumps({"prompt": "p" * (i % 97), "completion": "c"}) for i in range(500)]
    path.write_text("\n".join(lines))  # no newline at the end
    data = path.read_bytes()
    found = engine.segments(path, 1000)
    assert found[0][0] == 0 and found[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(found))
    assert all(data[end - 1 : end] == b"\n" for _start, end in found[:-1])
    values = list(engine.file_values(path))
    assert [n for n, _ in values] == list(range(1, 501))
    assert engine.segments(
        tmp_path / "empty.jsonl" if (tmp_path / "empty.jsonl").touch() is None else path
    ) == [(0, 0)]
    assert engine.line_at(path, len(data) - 1) == 500


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_word_counter_counts_leading_numbers_exactly(name: str) -> None:
    from ftctl.tokens import WordCounter

    encoding = get_encoding(name)
    counter = WordCounter(encoding)
    texts = [
        f"{number} Book summary é ->"
        for digits in range(1, 14)
        for number in ("1" * digits, "0" * digits, "9" * digits, str(10**digits + 7)[:digits])
    ]
    texts += ["٣٣٣ arabic-indic digits", "²³ superscripts", "12a3 mixed", "007 ids\n"]
    assert [counter(t) for t in texts] == [len(encoding.encode_ordinary(t)) for t in texts]


def test_csv_fields_longer_than_the_csv_modules_default(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    long_text = "word " * 60_000  # 300 KB: over csv's 128 KiB default field limit
    path.write_text(f'prompt,completion\n"{long_text}",done\n')
    rows = [r for _, r in readers.iter_rows(readers.open_source(path))]
    assert rows == [{"prompt": long_text, "completion": "done"}]
