"""Exit codes, one per outcome a script may want to branch on (documented in the README)."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # the API or the network failed
    USAGE = 2  # bad flags, or input that ftctl refuses
    JOB_FAILED = 3
    JOB_CANCELLED = 4
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT
