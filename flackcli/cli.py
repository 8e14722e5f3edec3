"""The ``flackcli`` command. A placeholder until the client lands (issue: flackcli).

Owns: the command line of the client. Imports typer; nothing from flackd but the codec.
"""

from __future__ import annotations

import typer

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


@app.command()
def _command() -> None:
    """flackcli: the Flack terminal client (not built yet: use nc or telnet for now)."""
    typer.echo("flackcli is not built yet; connect with: nc 127.0.0.1 7777", err=True)
    raise typer.Exit(1)


def main() -> None:
    """Entry point of the ``flackcli`` console script."""
    app()
