"""`python -m gateway` entry point."""

import sys

from gateway.cli import main

sys.exit(main())
