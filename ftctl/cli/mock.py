"""`ftctl mock serve`: the offline fine-tuning service on loopback.

Starlette and uvicorn are imported inside the command, so `ftctl --help` never loads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ftctl.errors import UsageError

app = typer.Typer(
    help="Run an offline OpenAI-compatible fine-tuning service.", no_args_is_help=True
)

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@app.command()
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; loopback unless you mean otherwise.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")
    ] = 8089,
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            min=0.001,
            help="Simulated seconds per real second: 50 finishes the book's job in under 3 s.",
        ),
    ] = 1.0,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed for ids, job seeds and loss curves.")
    ] = 0,
    org: Annotated[
        str,
        typer.Option(
            "--org", help="Organization name in tuned model names (ft:BASE:ORG:SUFFIX:ID)."
        ),
    ] = "personal",
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Do not log one line per request.")
    ] = False,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            help="Keep files, uploads, jobs, events and models in DIR (SQLite), so a restart "
            "loses nothing and jobs carry on by the clock.",
            metavar="DIR",
            file_okay=False,
        ),
    ] = None,
    fail_rate: Annotated[
        float,
        typer.Option(
            "--fail-rate",
            min=0.0,
            max=1.0,
            help="Share of requests answered at once with a 429 (Retry-After), 500 or 503.",
        ),
    ] = 0.0,
    drop_rate: Annotated[
        float,
        typer.Option(
            "--drop-rate",
            min=0.0,
            max=1.0,
            help="Share of requests carried out and then left unanswered (connection dropped).",
        ),
    ] = 0.0,
    fault_routes: Annotated[
        str,
        typer.Option(
            "--fault-routes",
            help="Comma-separated patterns of routes that faults apply to, as 'POST /v1/files' "
            "or '/v1/fine_tuning/*' (default: every route).",
            metavar="PATTERNS",
        ),
    ] = "",
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="Accept only this key; any other is a 401 invalid_api_key (default: any "
            "non-empty key).",
            metavar="KEY",
            show_default=False,
        ),
    ] = None,
    admin_keys_only: Annotated[
        bool,
        typer.Option(
            "--admin-keys-only",
            help="Checkpoint permissions take only sk-admin-... keys, as the service wants "
            "(default: any key).",
        ),
    ] = False,
) -> None:
    """Serve files, uploads, fine-tuning jobs, models and completions; any non-empty key works.

    Point ftctl or the official SDK at it with OPENAI_BASE_URL=http://HOST:PORT/v1; Azure OpenAI
    clients with AZURE_OPENAI_ENDPOINT=http://HOST:PORT (its /openai/... paths, api-version and
    api-key). The line "ftctl mock listening on URL" is printed once connections are accepted.
    Faults are drawn from --seed, so a run with the same seed and requests fails the same way.
    """
    import logging
    import threading
    import time

    from ftctl.mock import create_app
    from ftctl.mock.http import Faults
    from ftctl.mock.persist import StateError
    from ftctl.mock.server import build_server, loopback_socket

    if not org.strip() or ":" in org:
        raise UsageError(f"--org must be a non-empty name without ':' (got '{org}')")
    if api_key is not None and not api_key.strip():
        raise UsageError("--api-key must not be empty")
    if host not in _LOOPBACK:
        typer.echo(f"warning: binding {host}: the mock is reachable from other machines", err=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("ftctl.mock").setLevel(logging.WARNING if quiet else logging.INFO)
    try:
        sock = loopback_socket(host, port)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another --port, or 0 for any free one",
        ) from None
    bound = sock.getsockname()[1]
    # Build the tokenizers while the client starts up, so the first job is not slowed by it.
    threading.Thread(target=_warm_tokenizers, daemon=True).start()
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/v1"
    routes = tuple(r.strip() for r in fault_routes.split(",") if r.strip())
    faults = Faults(fail_rate, drop_rate, routes, seed) if fail_rate or drop_rate else None
    try:
        app = create_app(
            speed=speed,
            seed=seed,
            org=org,
            state=state,
            # Ids mix in the start time: a restarted server never hands out an id a client holds.
            salt=str(time.time_ns()),
            faults=faults,
            api_key=api_key.strip() if api_key else None,
            admin_keys_only=admin_keys_only,
        )
    except StateError as exc:
        sock.close()
        raise UsageError(str(exc), hint="pass another --state directory") from None

    def ready() -> None:
        # One line a script can wait for; flushed so a parent reading a pipe sees it at once.
        print(f"ftctl mock listening on {url}", flush=True)
        key = "the --api-key key" if api_key else "any non-empty OPENAI_API_KEY"
        kept = f", state in {state}" if state else ""
        typer.echo(
            f"Use it with OPENAI_BASE_URL={url} and {key} "
            f"(speed {speed:g}, seed {seed}{kept}); Ctrl-C stops it.",
            err=True,
        )

    build_server(app, on_ready=ready, timed_full_collections=True).run(sockets=[sock])


def _warm_tokenizers() -> None:
    from ftctl.tokens import get_encoding

    for name in ("cl100k_base", "o200k_base"):
        get_encoding(name)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="mock")
