"""`ftctl mock serve`: the offline fine-tuning service on loopback.

Starlette and uvicorn are imported inside the command, so `ftctl --help` never loads them.
"""

from __future__ import annotations

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
) -> None:
    """Serve files, uploads, fine-tuning jobs, models and completions; any non-empty key works.

    Point ftctl or the official SDK at it with OPENAI_BASE_URL=http://HOST:PORT/v1.
    """
    import logging
    import socket
    import threading

    import uvicorn

    from ftctl.mock import create_app

    if not org.strip() or ":" in org:
        raise UsageError(f"--org must be a non-empty name without ':' (got '{org}')")
    if host not in _LOOPBACK:
        typer.echo(f"warning: binding {host}: the mock is reachable from other machines", err=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("ftctl.mock").setLevel(logging.WARNING if quiet else logging.INFO)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without
    # it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another --port, or 0 for any free one",
        ) from None
    bound = sock.getsockname()[1]
    # Build the tokenizers while the client starts up, so the first job is not slowed by it.
    threading.Thread(target=_warm_tokenizers, daemon=True).start()
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/v1"
    # One line a script can wait for; flushed so a parent reading a pipe sees it at once.
    print(f"ftctl mock listening on {url}", flush=True)
    typer.echo(
        f"Use it with OPENAI_BASE_URL={url} and any non-empty OPENAI_API_KEY "
        f"(speed {speed:g}, seed {seed}); Ctrl-C stops it.",
        err=True,
    )
    config = uvicorn.Config(
        create_app(speed=speed, seed=seed, org=org),
        log_level="warning",
        access_log=False,  # the app logs its own line per request, with the request id
        lifespan="off",
    )
    uvicorn.Server(config).run(sockets=[sock])


def _warm_tokenizers() -> None:
    from ftctl.tokens import get_encoding

    for name in ("cl100k_base", "o200k_base"):
        get_encoding(name)
