"""``python -m ivr prompts build --config FILE --out DIR``."""
import sys

from ivr.cli import main

sys.exit(main())
