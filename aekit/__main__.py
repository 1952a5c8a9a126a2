"""``python -m aekit``: the same command line as ``aekit``."""

from aekit.cli import main

if __name__ == "__main__":
    main()
