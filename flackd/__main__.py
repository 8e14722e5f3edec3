"""``python -m flackd``: the same as the ``flackd`` command."""

from flackd.cli import main

main()
