"""Placeholder while the sandbox command is being written (replaced in this session)."""

import click


@click.command("sandbox")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("not available yet")
