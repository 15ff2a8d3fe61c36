"""Console entry point (`opaudit`, `python -m opaudit`).

Kept tiny on purpose: it starts the interpreter probe (`probe/prestart.py`) before importing
the CLI framework, so the runtime loads the model while the rest of the tool starts up.
"""

import sys


def main() -> None:
    from opaudit.probe.prestart import prestart

    prestart(sys.argv[1:])
    from opaudit.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
