"""Placeholder while the importing command is being written (replaced in this session)."""

import click


@click.command("import")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("not available yet")
