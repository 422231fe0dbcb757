"""`ftctl create`: check and upload the data, create the job, then follow it."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ftctl.cli import _output
from ftctl.cli._context import current
from ftctl.cli._following import PollInterval, jobs_service
from ftctl.cli._options import JsonFlag, YesFlag
from ftctl.cli.follow import follow_job
from ftctl.errors import InputError, UsageError
from ftctl.exit_codes import ExitCode
from ftctl.models import check_method, check_not_retired, model_facts

if TYPE_CHECKING:
    from ftctl.prepare import UploadCheck
    from ftctl.service.files import FilesService
    from ftctl.service.jobs import Hyperparameters, JobRequest, Method, Wandb

METHOD_NAMES = ("supervised", "dpo", "reinforcement")
# The grader types a reinforcement job takes (FineTuneReinforcementMethod.grader in the OpenAPI
# description; label_model only inside a multi grader).
GRADER_TYPES = ("string_check", "text_similarity", "python", "score_model", "multi")
MODEL_GRADER_TYPES = ("score_model", "label_model")


def _parse_metadata(pairs: list[str]) -> dict[str, str] | None:
    if not pairs:
        return None
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--metadata expects KEY=VALUE, got '{pair}'")
        metadata[key] = value
    return metadata


_MAX_PROBLEMS_SHOWN = 20
MAX_SUFFIX = 64


def _check_local_file(
    ref: str | None, model: str, flag: str, n_epochs: int | None, method: str | None
) -> UploadCheck | None:
    """Check a local training or validation file, refusing (before anything is uploaded) one the
    service would reject, or whose data contradicts the method (file and line named). None when
    there is nothing to check: no file, or a `file-...` id."""
    from ftctl.service.files import is_file_id

    if ref is None or is_file_id(ref):
        return None
    from ftctl.prepare.files import check_input_path

    path = Path(ref)
    try:
        check_input_path(path)  # a directory, FIFO or unreadable file each said as such
    except InputError as exc:
        exc.hint = exc.hint or f"pass a local JSONL file or a file-... id to {flag}"
        raise
    from ftctl.prepare import check_training_file

    check = check_training_file(path, model, n_epochs=n_epochs, method=method)
    if not check.usable:
        shown = check.problems[:_MAX_PROBLEMS_SHOWN]
        for problem in shown:
            _output.note(problem)
        if len(check.problems) > len(shown):
            _output.note(f"... and {len(check.problems) - len(shown)} more")
        raise InputError(
            path,
            f"{check.problem_count} problem(s) the service would reject; nothing was uploaded",
            hint=_fix_hint(path, model, check),
        )
    return check


def _fix_hint(path: Path, model: str, check: UploadCheck) -> str:
    """The next step for refused data: a command that works (never one that sends the user back
    here with the same data)."""
    if check.format == "prompt_completion" and not _is_completion_model(model):
        command = shlex.join(["ftctl", "prepare", "-f", str(path), "--to-chat", "-m", model])
        return f"convert it to chat data for {model}: `{command}`"
    if _starts_with(path, b"["):  # the book's train_data.json: what prepare converts
        command = shlex.join(["ftctl", "prepare", "-f", str(path)])
        return f"it is a JSON array, not JSON Lines: `{command}` writes it as JSON Lines"
    if check.problems and all("[model_not_tunable]" in p for p in check.problems):
        return "choose a model that can be fine-tuned (named above): `ftctl models list`"
    if check.problems and all("[wrong_method_for_data]" in p for p in check.problems):
        return "drop --method and the data decides it, or pass data for that method"
    return "fix the lines listed above, then run this command again"


def _starts_with(path: Path, prefix: bytes) -> bool:
    """Whether the file's first non-blank bytes are prefix."""
    with path.open("rb") as handle:
        return handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(prefix)


def _is_completion_model(model: str) -> bool:
    facts = model_facts(model)
    return facts is not None and facts.endpoint == "completions"


# -- method, hyperparameters, grader, integrations ---------------------------------------------


def _method_from_flags(method: str | None, grader: dict[str, Any] | None) -> str | None:
    """The method the flags decide, or None to follow the data (preference lines mean dpo)."""
    if method is not None:
        name = method.strip().lower()
        if name not in METHOD_NAMES:
            raise UsageError(
                f"unknown --method '{method}'", hint=f"use one of {', '.join(METHOD_NAMES)}"
            )
        if name == "reinforcement" and grader is None:
            raise UsageError(
                "--method reinforcement needs a grader",
                hint="pass --grader FILE, a JSON grader object (e.g. a string_check grader)",
            )
        if name != "reinforcement" and grader is not None:
            raise UsageError(
                f"--grader is for reinforcement jobs, not --method {name}",
                hint="drop --grader, or use --method reinforcement",
            )
        return name
    return "reinforcement" if grader is not None else None


def _load_grader(path: Path | None) -> dict[str, Any] | None:
    """A grader object from a JSON file, refused (file, line, field) before anything is sent."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot read the grader ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(path, "the grader is not UTF-8 text") from None
    try:
        grader = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        reason = getattr(exc, "msg", str(exc))
        raise InputError(path, f"the grader is not valid JSON ({reason})", line=line) from None
    if not isinstance(grader, dict):
        raise InputError(path, 'a grader is a JSON object, such as {"type": "string_check", ...}')
    kind = grader.get("type")
    if kind not in GRADER_TYPES:
        shown = "missing" if kind is None else f"'{kind}'" if isinstance(kind, str) else "not text"
        raise InputError(
            path,
            f"grader type {shown}; a reinforcement job takes {', '.join(GRADER_TYPES)}",
            field="type",
        )
    return grader


def _model_graders(grader: dict[str, Any]) -> list[str]:
    """Models a grader calls (score_model, label_model, also inside multi): their tokens are
    billed on top of a reinforcement job's training time."""
    if grader.get("type") in MODEL_GRADER_TYPES:
        return [str(grader.get("model") or "a model")]
    if grader.get("type") == "multi":
        inner = grader.get("graders")
        members = inner.values() if isinstance(inner, dict) else inner or []
        return [m for g in members if isinstance(g, dict) for m in _model_graders(g)]
    return []


_SECRET_LOOKING = re.compile(r"(?:^|[^A-Za-z0-9])(?:sk-|sess-|pk-)[A-Za-z0-9_\-]{16,}")


def _wandb(
    project: str | None, entity: str | None, name: str | None, tags: list[str]
) -> Wandb | None:
    """The W&B integration, or None. A value that looks like an API key is refused without
    being shown: the job object would keep it for anyone in the project to read."""
    from ftctl.service.jobs import Wandb

    if project is None:
        if entity or name or tags:
            raise UsageError(
                "--wandb-entity, --wandb-name and --wandb-tag need --wandb-project",
                hint="add --wandb-project PROJECT",
            )
        return None
    key = current().settings.api_key
    fields = [("--wandb-project", project), ("--wandb-entity", entity), ("--wandb-name", name)]
    fields += [(f"--wandb-tag #{i}", tag) for i, tag in enumerate(tags, 1)]
    for flag, value in fields:
        if value and (
            (key and key.strip() and key.strip() in value) or _SECRET_LOOKING.search(value)
        ):
            raise UsageError(
                f"{flag} looks like a secret (an API key); it is not shown and nothing was sent",
                hint="W&B credentials belong in the organization's settings on the platform, "
                f"not in the job: pass a plain name to {flag.split(' ')[0]}",
            )
    return Wandb(project=project, entity=entity, name=name, tags=tuple(tags))


def _checked_hyperparameters(hyper: Hyperparameters, method: str | None) -> None:
    """The API's ranges always; with a method, that it takes each hyperparameter given."""
    from ftctl.service.jobs import HyperparameterError

    try:
        hyper.check_ranges()
        if method is not None:
            hyper.check_method(method)
    except HyperparameterError as exc:
        flag = "--" + exc.name.replace("_", "-")
        raise UsageError(f"{flag}: {exc.message}", hint=_HYPERPARAMETERS_HINT) from None


_HYPERPARAMETERS_HINT = (
    "supervised takes --n-epochs, --batch-size, --learning-rate-multiplier; dpo also --beta; "
    "reinforcement also --reasoning-effort, --compute-multiplier, --eval-interval, --eval-samples"
)


# -- first contact: the key and the model, before asking or uploading ---------------------------


def _check_model_reachable(model: str) -> None:
    """Ask the service for the model (which also proves the key works) before anything is
    uploaded: a name it does not know is refused input (exit 2), with no orphan file."""
    import openai

    from ftctl.service.models import ModelsService

    try:
        ModelsService(current().client()).retrieve(model)
    except openai.NotFoundError:
        on_azure = current().settings.is_azure
        where = "on this Azure OpenAI resource" if on_azure else "to this key"
        raise UsageError(
            f"model '{model}' is not available {where}; nothing was uploaded",
            hint="`ftctl models list` shows the models this key can use",
        ) from None


def cost_line(path: str, check: UploadCheck, request: JobRequest) -> str:
    """What the job will cost, as far as can be known before it runs: tokens and an estimate
    for supervised and dpo (billed per token); for reinforcement, the dated hourly rate, the
    model graders whose tokens add to it, and what the job will do (billed by training time)."""
    from ftctl.pricing import TRAINING_HOUR_PRICES_DATE, price_per_hour

    what = f"{path}: {check.examples:,} {check.format.replace('_', '/')} examples, "
    what += f"{check.total_tokens:,} tokens"
    if request.method != "reinforcement":
        cost = check.estimated_cost_usd
        cost_text = "unknown (no price for this model)" if cost is None else f"${cost:,.2f}"
        return (
            f"{what}; about {check.billed_tokens:,} billed tokens over {check.n_epochs} epochs, "
            f"estimated cost {cost_text} ({request.method}, billed per training token)"
        )
    rate = price_per_hour(request.model)
    rate_text = (
        f"${rate:,.2f} per hour of training (prices of {TRAINING_HOUR_PRICES_DATE})"
        if rate is not None
        else "at the platform's hourly rate (none known to ftctl for this model)"
    )
    graders = _model_graders(request.grader or {})
    grader_text = (
        f", plus the tokens of the model grader ({', '.join(graders)}) at that model's rates"
        if graders
        else "; this grader calls no model, so no grader tokens"
    )
    hyper = request.hyperparameters
    plan = ", ".join(
        f"{label} {'auto' if value is None else value}"
        for label, value in (
            ("epochs", hyper.n_epochs),
            ("eval interval", hyper.eval_interval),
            ("eval samples", hyper.eval_samples),
            ("compute multiplier", hyper.compute_multiplier),
            ("reasoning effort", hyper.reasoning_effort),
        )
    )
    return (
        f"{what}; reinforcement is billed by training time, not tokens: {rate_text}{grader_text}. "
        f"The time is not known in advance ({plan})"
    )


def _cost_note(path: str, check: UploadCheck, request: JobRequest) -> None:
    _output.note(cost_line(path, check, request))


def _confirm_spending(question: str, yes: bool) -> None:
    """The one rule: --yes goes ahead; a terminal is asked; anything else is refused (exit 2), so
    a script never spends by accident and never hangs on a question."""
    if yes:
        return
    if not _output.stdin_is_tty():
        raise UsageError(
            "create spends money and there is no terminal to ask: nothing was uploaded or created",
            hint="add --yes to the same command to go ahead",
        )
    if not typer.confirm(question, default=True, err=True):
        raise typer.Exit(ExitCode.OK)


def _bytes_setting(name: str, default: int) -> int:
    import os

    value = os.environ.get(name)
    if not value:
        return default
    try:
        return max(1, int(value))
    except ValueError:
        raise UsageError(f"{name} must be a number of bytes, got '{value}'") from None


def _files_service() -> FilesService:
    from ftctl.service.files import PART_LIMIT, PARTS_ABOVE, FilesService
    from ftctl.service.upload_record import UploadRecord

    return FilesService(
        current().client(),
        record=UploadRecord.default(),
        # For tests and demos of the Uploads API on small files.
        parts_above=_bytes_setting("FTCTL_UPLOAD_PARTS_ABOVE", PARTS_ABOVE),
        part_size=_bytes_setting("FTCTL_UPLOAD_PART_BYTES", PART_LIMIT),
    )


def _reuse_identical(
    service: FilesService, path: Path, sha256: str, reuse: bool | None
) -> str | None:
    """The id of an identical file already uploaded, if one should be used instead of uploading.

    Content recorded by sha256 is certainly the same: used unless --no-reuse (asked on a
    terminal). A file of the same name and size may differ: asked on a terminal, used with
    --reuse, else uploaded again."""
    if reuse is False:
        return None
    found = service.find_identical(path, sha256)
    if found is None:
        return None
    file_id = str(found.file.get("id"))
    how = "the same content" if found.certain else "the same name and size"
    if reuse is None and _output.stdin_is_tty():
        question = f"{path} was uploaded before as {file_id} ({how}). Use that file?"
        if not typer.confirm(question, default=True, err=True):
            return None
    elif reuse is None and not found.certain:
        _output.note(
            f"{file_id} has {how} as {path}, but may differ: uploading (--reuse would use it)"
        )
        return None
    _output.note(f"Using {file_id}, uploaded before with {how} as {path}")
    return file_id


def _upload(path: Path, reuse: bool | None = None) -> tuple[str, bool]:
    """(file id, whether this run uploaded it)."""
    from ftctl.service.files import PARTS_ABOVE
    from ftctl.service.upload_record import digests

    service = _files_service()
    if path.stat().st_size > PARTS_ABOVE:  # long enough to read that it deserves a word
        _output.note(f"Reading {path} to recognize a file uploaded before (sha256, md5)...")
    digest = digests(path)
    reused = _reuse_identical(service, path, digest[0], reuse)
    if reused is not None:
        return reused, False
    size = path.stat().st_size
    if _output.stderr_is_tty():
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        with Progress(
            TextColumn("Upload progress"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=_output.err_console(),
            transient=False,
        ) as progress:
            task = progress.add_task("upload", total=size)
            uploaded = service.upload(
                path,
                on_progress=lambda n: progress.advance(task, n),
                notify=_output.note,
                digest=digest,
            )
    else:
        uploaded = service.upload(path, notify=_output.note, digest=digest)
    file_id = str(uploaded["id"])
    _output.note(f"Uploaded file from {path}: {file_id}")
    return file_id, True


def _delete_hint(file_id: str) -> str:
    return f"ftctl files delete {file_id}"


def _say_what_is_left(uploaded: list[str], exc: BaseException) -> None:
    """After a create that failed: which files this run uploaded and how to reuse or delete
    them (unless the job exists after all and uses them)."""
    from ftctl.service.jobs import CreateInterrupted, CreateMayHaveSucceeded

    if not uploaded or (isinstance(exc, CreateInterrupted) and exc.job is not None):
        return
    maybe = isinstance(exc, (CreateMayHaveSucceeded, CreateInterrupted))
    for file_id in uploaded:
        state = "may be used by a job" if maybe else "is left on the service, unused"
        _output.note(
            f"Uploaded file {file_id} {state}: reuse it with -t {file_id}, "
            f"or delete it with `{_delete_hint(file_id)}`"
        )


def create(
    training_file: Annotated[
        str,
        typer.Option(
            "--training-file", "-t", help="Training data: a local JSONL file or a file-... id."
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Base model, e.g. gpt-4o-mini-2024-07-18, davinci-002, or o4-mini-2025-04-16 "
            "for reinforcement.",
        ),
    ],
    validation_file: Annotated[
        str | None,
        typer.Option(
            "--validation-file", "-v", help="Validation data: a local JSONL file or a file-... id."
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            metavar="supervised|dpo|reinforcement",
            help="Fine-tuning method [default: follows the data: preference lines mean dpo, "
            "a --grader means reinforcement, else supervised]. A method the data contradicts "
            "is refused before anything is uploaded.",
            show_default=False,
        ),
    ] = None,
    grader: Annotated[
        Path | None,
        typer.Option(
            "--grader",
            metavar="FILE",
            help="Reinforcement: a JSON grader object (string_check, text_similarity, python, "
            "score_model or multi).",
            show_default=False,
        ),
    ] = None,
    suffix: Annotated[
        str | None, typer.Option("--suffix", help="Up to 64 characters added to the model name.")
    ] = None,
    n_epochs: Annotated[
        int | None, typer.Option("--n-epochs", min=1, max=50, help="Epochs [default: auto].")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, max=256, help="Batch size [default: auto].")
    ] = None,
    learning_rate_multiplier: Annotated[
        float | None,
        typer.Option(
            "--learning-rate-multiplier", help="Learning rate multiplier, > 0 [default: auto]."
        ),
    ] = None,
    beta: Annotated[
        float | None,
        typer.Option(
            "--beta",
            help="DPO: weight of the penalty between policy and reference model, in (0, 2] "
            "[default: auto].",
        ),
    ] = None,
    reasoning_effort: Annotated[
        str | None,
        typer.Option(
            "--reasoning-effort",
            metavar="default|low|medium|high",
            help="Reinforcement: reasoning effort [default: default].",
            show_default=False,
        ),
    ] = None,
    compute_multiplier: Annotated[
        float | None,
        typer.Option(
            "--compute-multiplier",
            help="Reinforcement: compute for exploring the search space, in (0.00001, 10] "
            "[default: auto].",
        ),
    ] = None,
    eval_interval: Annotated[
        int | None,
        typer.Option(
            "--eval-interval", help="Reinforcement: training steps between evaluations, >= 1."
        ),
    ] = None,
    eval_samples: Annotated[
        int | None,
        typer.Option("--eval-samples", help="Reinforcement: samples per evaluation, >= 1."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for reproducible jobs.")] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", help="KEY=VALUE to attach to the job; repeatable."),
    ] = None,
    wandb_project: Annotated[
        str | None,
        typer.Option(
            "--wandb-project",
            help="Send the job's metrics to this Weights & Biases project (the W&B key is set "
            "in the platform's organization settings, never here).",
            show_default=False,
        ),
    ] = None,
    wandb_entity: Annotated[
        str | None, typer.Option("--wandb-entity", help="W&B team or user.", show_default=False)
    ] = None,
    wandb_name: Annotated[
        str | None,
        typer.Option(
            "--wandb-name", help="W&B run name [default: the job id].", show_default=False
        ),
    ] = None,
    wandb_tags: Annotated[
        list[str] | None,
        typer.Option("--wandb-tag", help="W&B run tag; repeatable.", show_default=False),
    ] = None,
    no_follow: Annotated[
        bool, typer.Option("--no-follow", help="Return once the job is created.")
    ] = False,
    poll_interval: PollInterval = 5.0,
    reuse: Annotated[
        bool | None,
        typer.Option(
            "--reuse/--no-reuse",
            help="Use (or never use) a file uploaded before with the same content, or the same "
            "name and size, instead of uploading again [default: ask on a terminal; without "
            "one, reuse only content known to be the same].",
            show_default=False,
        ),
    ] = None,
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Upload training data and create a fine-tuning job, then follow it.

    Every method: supervised (chat or prompt/completion data), dpo (preference lines: input,
    preferred_output, non_preferred_output) and reinforcement (chat lines ending with a user
    turn, plus --grader). Before anything is uploaded ftctl checks the flags against the API's
    ranges, the model against the methods it offers (and asks the service for it, which also
    checks the key), and local files as the service would, with the data's method. The cost
    line fits the method: supervised and dpo are billed per training token; reinforcement by
    training time, plus the tokens of model graders. On a terminal, ftctl asks before spending;
    without one, it needs --yes.
    """
    from ftctl.service.jobs import Hyperparameters, JobRequest

    check_not_retired(model)
    if suffix is not None and not 1 <= len(suffix) <= MAX_SUFFIX:  # else refused after the upload
        raise UsageError(
            f"--suffix: between 1 and {MAX_SUFFIX} characters (the API's limit), got {len(suffix)}"
        )
    meta = _parse_metadata(metadata or [])
    grader_object = _load_grader(grader)
    chosen = _method_from_flags(method, grader_object)
    hyper = Hyperparameters(
        n_epochs=n_epochs,
        batch_size=batch_size,
        learning_rate_multiplier=learning_rate_multiplier,
        beta=beta,
        reasoning_effort=reasoning_effort,
        compute_multiplier=compute_multiplier,
        eval_interval=eval_interval,
        eval_samples=eval_samples,
    )
    _checked_hyperparameters(hyper, chosen)
    if chosen is not None:
        check_method(model, chosen)
    integration = _wandb(wandb_project, wandb_entity, wandb_name, wandb_tags or [])

    train_check = _check_local_file(training_file, model, "-t", n_epochs, chosen)
    final: Method = _final_method(chosen, train_check)
    if chosen is None:
        _checked_hyperparameters(hyper, final)
        check_method(model, final)
    valid_check = _check_local_file(validation_file, model, "-v", n_epochs, final)

    draft = JobRequest(
        model=model,
        training_file=training_file,
        validation_file=validation_file,
        suffix=suffix,
        method=final,
        hyperparameters=hyper,
        grader=grader_object,
        wandb=integration,
        seed=seed,
        metadata=meta,
    )
    for ref, check in ((training_file, train_check), (validation_file, valid_check)):
        if ref is not None and check is not None:
            _cost_note(ref, check, draft)
    if train_check is None and valid_check is None:
        question = f"Start training {model} on {training_file}?"
    else:
        question = "Upload and start training?"
    if not yes and not _output.stdin_is_tty():
        _confirm_spending(question, yes)  # refuses at once: no one to ask, nothing sent
    current().client()  # the key, then the model: checked before anything is asked or uploaded
    _check_model_reachable(model)
    _confirm_spending(question, yes)
    uploaded: list[str] = []

    def file_id(ref: str | None, check: UploadCheck | None) -> str | None:
        if ref is None or check is None:
            return ref
        the_id, new = _upload(Path(ref), reuse)
        if new:
            uploaded.append(the_id)
        return the_id

    train_id = file_id(training_file, train_check)
    valid_id = file_id(validation_file, valid_check)
    assert train_id is not None

    request = replace(draft, training_file=train_id, validation_file=valid_id)
    service = jobs_service()
    try:
        job = service.create(request, notify=_output.note)
    except BaseException as exc:
        _say_what_is_left(uploaded, exc)
        raise
    job_id = str(job["id"])
    _output.note(f"Created fine-tuning job: {job_id} ({final})")
    if no_follow:
        if as_json:
            _output.emit_json(job)
        else:
            _output.echo(job_id)
        return
    if as_json:
        _output.emit_json_line(job)
    _output.note("Streaming events until fine-tuning is complete...")
    _output.note("(Ctrl-C will interrupt the stream, but not cancel the fine-tune)")
    prompt, stop = _try_example(Path(training_file)) if train_check is not None else (None, None)
    follow_job(
        service,
        job_id,
        poll_interval=poll_interval,
        as_json=as_json,
        try_prompt=prompt,
        try_stop=stop,
    )


def _final_method(chosen: str | None, check: UploadCheck | None) -> Method:
    """The flags' method, else the data's (a `file-...` id has no data to read: supervised)."""
    name = chosen or (check.method if check is not None else "supervised")
    if name == "dpo":
        return "dpo"
    if name == "reinforcement":
        return "reinforcement"
    return "supervised"


def _try_example(path: Path) -> tuple[str | None, str | None]:
    """A prompt from the training data (so it ends with the data's separator) and, for
    prompt/completion data, the ending every completion shares: the stop sequence prepare
    advises. The file was checked already; anything unexpected just gives no example."""
    prompt: str | None = None
    endings: list[str] = []
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines):
                if number >= _TRY_EXAMPLE_LINES:
                    break
                record = json.loads(line) if line.strip() else None
                if not isinstance(record, dict):
                    continue
                if isinstance(record.get("completion"), str):
                    endings.append(record["completion"])
                if prompt is None:
                    prompt = _example_prompt(record)
    except (OSError, ValueError):
        return None, None
    stop = _shared_ending(endings).strip(" ")
    return prompt, stop or None


def _shared_ending(texts: list[str]) -> str:
    """The longest ending every text has ("" for none, or no texts)."""
    if not texts:
        return ""
    ending = texts[0]
    for text in texts[1:]:
        size = 0
        while size < min(len(ending), len(text)) and ending[-1 - size] == text[-1 - size]:
            size += 1
        ending = ending[len(ending) - size :]
        if not ending:
            break
    return ending


_TRY_EXAMPLE_LINES = 10_000


def _example_prompt(record: dict[str, Any]) -> str | None:
    if isinstance(record.get("prompt"), str):
        return str(record["prompt"])
    messages = record.get("messages")
    if messages is None and isinstance(record.get("input"), dict):
        messages = record["input"].get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                return content if isinstance(content, str) else None
    return None


def register(app: typer.Typer) -> None:
    app.command("create")(create)
