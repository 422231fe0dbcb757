"""One or two examples for the end of each command's --help, in one place (applied where the
commands are registered, so command modules stay as they are)."""

from __future__ import annotations

import typer

# Command path (as typed after `ftctl`) -> example lines.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ("ftctl run -f train_data.json -m davinci-002", "ftctl list --status running"),
    "prepare": (
        "ftctl prepare -f train_data.json",
        "ftctl prepare -f chat.jsonl -m gpt-4o-mini-2024-07-18",
    ),
    "create": (
        "ftctl create -t train_data_prepared.jsonl -m davinci-002",
        "ftctl create -t rft.jsonl -m o4-mini-2025-04-16 --grader grader.json --eval-interval 5",
    ),
    "run": (
        "ftctl run -f train_data.json -m davinci-002 --yes",
        'ftctl run -f train_data.json -m davinci-002 --sample "Secrets Unveiled" --n-epochs 4',
    ),
    "follow": ("ftctl follow -i ftjob-abc123", "ftctl follow ftjob-abc123 ftjob-def456"),
    "watch": ("ftctl watch", "ftctl watch ftjob-abc123 ftjob-def456 --json"),
    "list": (
        "ftctl list --status running --status queued",
        "ftctl list --metadata team=books --model davinci-002 --all --json",
    ),
    "get": ("ftctl get -i ftjob-abc123", "ftctl get ftjob-abc123 --json | jq .status"),
    "cancel": ("ftctl cancel -i ftjob-abc123",),
    "pause": ("ftctl pause -i ftjob-abc123",),
    "resume": ("ftctl resume -i ftjob-abc123",),
    "events": ("ftctl events -i ftjob-abc123", "ftctl events -i ftjob-abc123 --all --json"),
    "checkpoints": ("ftctl checkpoints -i ftjob-abc123",),
    "checkpoints list": ("ftctl checkpoints list -i ftjob-abc123 --json",),
    "checkpoints share": (
        "ftctl checkpoints share ft:gpt-4o-mini-2024-07-18:acme::abc123 --project proj_abc123",
    ),
    "checkpoints permissions": (
        "ftctl checkpoints permissions ft:gpt-4o-mini-2024-07-18:acme::abc123",
    ),
    "checkpoints unshare": (
        "ftctl checkpoints unshare ft:gpt-4o-mini-2024-07-18:acme::abc123 cp_abc123 --yes",
    ),
    "config": ("ftctl config", "ftctl --provider azure config --json"),
    "metrics": (
        "ftctl metrics -i ftjob-abc123",
        "ftctl metrics -i ftjob-abc123 -i ftjob-def456 --csv metrics.csv --png loss.png",
    ),
    "complete": (
        'ftctl complete -m ft:davinci-002:acme::abc123 --stop . "Secrets Unveiled ->"',
        'echo "Hello" | ftctl complete -m gpt-4o-mini-2024-07-18 -',
    ),
    "delete": ("ftctl delete -i ft:davinci-002:acme::abc123",),
    "files": ("ftctl files list --purpose fine-tune", "ftctl files prune --dry-run"),
    "files list": ("ftctl files list", "ftctl files list --purpose fine-tune-results --json"),
    "files get": ("ftctl files get file-abc123",),
    "files download": (
        "ftctl files download file-abc123",
        "ftctl files download file-abc123 -o - | head",
    ),
    "files delete": ("ftctl files delete file-abc123 file-def456 --yes",),
    "files prune": ("ftctl files prune --dry-run", "ftctl files prune --yes"),
    "models": ("ftctl models list --fine-tuned",),
    "models list": ("ftctl models list --fine-tuned", "ftctl models list --json | jq '.data[].id'"),
    "models get": ("ftctl models get davinci-002",),
    "graders": ("ftctl graders validate grader.json",),
    "graders validate": ("ftctl graders validate grader.json",),
    "graders run": (
        "ftctl graders run grader.json --sample 'Paris' --item '{\"answer\": \"Paris\"}'",
        "ftctl graders run grader.json --sample @answer.txt --item @item.json --json",
    ),
    "mock": ("ftctl mock serve --speed 50",),
    "mock serve": (
        "ftctl mock serve --speed 50",
        "OPENAI_BASE_URL=http://127.0.0.1:8089/v1 OPENAI_API_KEY=sk-mock ftctl list",
    ),
}


def epilog(path: str) -> str | None:
    lines = EXAMPLES.get(path)
    if not lines:
        return None
    # \b keeps Click from re-flowing the lines into one paragraph.
    return "\b\nExamples:\n" + "\n".join(f"  $ {line}" for line in lines)


def apply(app: typer.Typer, prefix: str = "") -> None:
    """Set the examples as the epilog of every command registered on `app`, groups included."""
    if not isinstance(app.info.epilog, str):  # unset: None or Typer's default placeholder
        app.info.epilog = epilog(prefix.strip())
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        if command.epilog is None:
            command.epilog = epilog(f"{prefix}{name}".strip())
    for group in app.registered_groups:
        if group.typer_instance is not None and group.name:
            if not isinstance(group.epilog, str):
                group.epilog = epilog(f"{prefix}{group.name}".strip())
            apply(group.typer_instance, f"{prefix}{group.name} ")
