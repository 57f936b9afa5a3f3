"""Train a dense network with fnn from the command line: ``fnn-train``, run from a checkout.

    python scripts/train.py --help

The program lives in :mod:`fnn.cli` (installed as the ``fnn-train`` command with
``pip install "fnn[scripts]"``); this file only runs it.
"""

import sys

from fnn.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="train.py"))
