"""The workers' host: a fresh interpreter that builds the token encoder, then forks the workers.

Building tiktoken's encoder holds, for a moment, the ranks twice: as the Python dict it is built
from and in the Rust encoder (72 MB together for o200k_base, 42 MB once the dict is let go). In
ftctl's own process that moment sits on top of the CLI's modules (36 MB), and every worker forked
from it starts with those modules too. Here it sits on an interpreter and tiktoken (16 MB), and
the workers share the encoder with this process only.

ftctl.prepare.engine.run_hosted starts it and sends on stdin, pickled: (encoding name, its rank
file, checked there: hashlib here would add 4 MB to the peak), then (func, jobs, workers). The
answers go to stdout, pickled: ("result", value) for each job in order, then ("end", None); or
("error", exception) for the parent to raise.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from typing import Any


def _stop(_signum: int, _frame: object) -> None:
    raise SystemExit(1)  # unwinds the pool, which stops its workers


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    source, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else is written on the answers' pipe
    # and no worker holds it open: were this process killed, the parent would wait for them
    os.register_at_fork(after_in_child=_release_answers)
    try:
        from ftctl.tokens import ordinary_encoding, parse_ranks

        encoding_name, raw = pickle.load(source)
        ranks = parse_ranks(raw)
        del raw
        ordinary_encoding(encoding_name, ranks)  # the peak, before anything else is loaded
        del ranks
        from ftctl.prepare import engine

        engine.token_counter(encoding_name)
        func, jobs, workers = pickle.load(source)
        for value in engine.run_parts(func, jobs, workers, prime=_nothing):
            _answer(answers, "result", value)
        _answer(answers, "end", None)
    except BrokenPipeError:  # the parent stopped reading: it needs no more
        return 1
    except KeyboardInterrupt:  # Ctrl-C reached the parent too; it says so
        return 130
    except Exception as exc:  # the parent raises it, as if the job had run there
        try:
            _answer(answers, "error", exc)
        except BrokenPipeError:
            return 1
        return 1
    return 0


def _release_answers() -> None:
    os.dup2(sys.stderr.fileno(), 1)


def _nothing() -> None:
    return None


def _answer(out: Any, kind: str, value: object) -> None:
    """One answer, whole or not at all (a value that cannot be pickled goes as its text)."""
    try:
        data = pickle.dumps((kind, value), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception of any kind may fail to pickle
        data = pickle.dumps(("error", RuntimeError(f"{type(value).__name__}: {value}")))
    out.write(data)
    out.flush()
