"""`python -m bot` is the same as the `fupin-bot` console script."""

from bot.cli import main

main()
