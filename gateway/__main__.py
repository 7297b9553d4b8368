"""`python -m gateway` entry point."""

import sys

from gateway import early_signals

if sys.argv[1:2] == ["serve"]:
    early_signals.hold()

# Imported after the signals are held, on purpose: importing takes a noticeable while.
from gateway.cli import main

sys.exit(main())
