"""``python -m sim``, the same as ``acd-sim``."""
from sim.cli import main

raise SystemExit(main())
