"""Placeholder while the demo command is being written (replaced in this session)."""

import click


@click.command("demo-data")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("not available yet")
