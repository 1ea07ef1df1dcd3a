"""``python -m plinth`` is the ``plinth`` command."""

from plinth.cli import main

main()
