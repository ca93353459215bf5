"""``python -m bordermatch``: the same command line as the ``bordermatch`` script."""

from bordermatch.cli import main

main()
