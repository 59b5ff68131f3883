"""``litmine serve``: the clinicians' web page and JSON API under uvicorn.

Mounted on the main app by :mod:`litmine.cli.root`::

    from litmine.web.cli import serve_command
    app.command("serve")(serve_command)
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from litmine.cli.common import DataDirOpt, cli_settings, err, handle_errors, require_database

__all__ = ["serve_command"]


@handle_errors
def serve_command(
    host: Annotated[
        str, typer.Option("--host", help="Interface to listen on (0.0.0.0: every one).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    data_dir: DataDirOpt = None,
    preload: Annotated[
        bool,
        typer.Option(
            "--preload/--lazy", help="Load the index and models at startup, or on first question."
        ),
    ] = True,
) -> None:
    """Serve the web page (questions, answers, CSV) and the JSON API (/docs)."""
    import uvicorn

    from litmine.web.app import create_app

    settings = cli_settings(data_dir)
    require_database(settings)
    app = create_app(settings, preload=preload)
    if not _is_loopback(host):
        err.print(
            f"litmine: warning: the page and API have no authentication; anyone who can reach "
            f"{host}:{port} can query the collection (serve on 127.0.0.1, or put a proxy with "
            "authentication in front)",
            markup=False,
            soft_wrap=True,
        )
    err.print(f"litmine: serving {settings.data_dir} on http://{host}:{port}/", markup=False)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)


def _is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface
