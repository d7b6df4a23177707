"""``python -m tlkit``: the same command line as ``tlkit``."""

import sys

if __name__ == "__main__":
    try:
        # loads the CLI's modules: a Ctrl-C here is "Aborted!" too, not a traceback
        from tlkit.cli import main
    except KeyboardInterrupt:
        print("Aborted!", file=sys.stderr)
        sys.exit(1)
    main()
