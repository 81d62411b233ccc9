"""`lumbung serve`: the HTTP API (and the pages, when installed) under uvicorn, with the
embedded job worker."""

from __future__ import annotations

import ipaddress

import typer

from lumbung.cli.common import console, handled
from lumbung.errors import ValidationFailed


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only (localhost, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@handled
def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Server processes."),
    worker: bool = typer.Option(
        True, "--worker/--no-worker", help="Run the embedded job worker in this process."
    ),
    access_log: bool = typer.Option(
        True,
        "--access-log/--no-access-log",
        help="Log every request (off behind a proxy that logs them: 5 % of a page's CPU).",
    ),
    allow_remote: bool = typer.Option(
        False,
        "--allow-remote",
        help="Listen on an address other machines reach (behind a TLS proxy only).",
    ),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        "--forwarded-allow-ips",
        help="The TLS proxy in front (e.g. 127.0.0.1), whose X-Forwarded-For/-Proto are "
        "trusted for the client's address and https. Unset: no header is trusted.",
    ),
) -> None:
    """Serve the HTTP API at /api/v1 (and the web pages) until stopped (Ctrl-C)."""
    if not is_loopback(host):
        if not allow_remote:
            raise ValidationFailed(
                f"--host {host} bisa dijangkau mesin lain, tetapi server ini tidak memakai TLS: "
                "jalankan di belakang proxy TLS (nginx, Caddy) dan beri --allow-remote."
            )
        console.print(
            "[yellow]peringatan[/yellow]: server ini berbicara HTTP biasa; cookie dan token "
            "hanya aman di belakang proxy TLS (https).",
            highlight=False,
        )
    import uvicorn

    from lumbung.jobs.queue import start_embedded_worker

    embedded = start_embedded_worker() if worker else None
    try:
        uvicorn.run(
            "lumbung.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # A server process loads the whole application (Ibis, DuckDB, pyarrow) before it
            # answers uvicorn's health check: on a busy 2-core machine that took 15 s, and with
            # the default of 5 s every process was killed and restarted in a loop.
            timeout_worker_healthcheck=60,
            # Without a proxy in front, any local process could claim any address in
            # X-Forwarded-For and escape the sign-in and token limits per address.
            proxy_headers=forwarded_allow_ips is not None,
            forwarded_allow_ips=forwarded_allow_ips,
            server_header=False,
            log_level="info",
            access_log=access_log,
        )
    finally:
        if embedded is not None:
            embedded.stop()
