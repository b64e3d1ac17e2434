"""``python -m simulation`` runs the ``mlmsim`` command line."""

import sys

from simulation.cli import main

sys.exit(main())
