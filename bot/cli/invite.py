"""Placeholder while the invite command is being written (replaced in this session)."""

import click


@click.command("invite")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("not available yet")
