"""``python -m dlnlab``: the `dlnlab` command line."""

from .cli import main

if __name__ == "__main__":  # not on import (pytest's doctest collection imports every module)
    main()
