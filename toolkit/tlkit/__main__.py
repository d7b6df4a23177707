"""``python -m tlkit``: the same command line as ``tlkit``."""

from tlkit.cli import main

if __name__ == "__main__":
    main()
