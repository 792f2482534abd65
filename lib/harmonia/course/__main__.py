"""Entry point of ``python -m harmonia.course`` (see :mod:`harmonia.course.cli`)."""

import sys

from harmonia.course.cli import main

if __name__ == "__main__":
    sys.exit(main())
