"""The planner's simulator: the live engine, a SimPy load model and the analytic formulas.

- ``model``: a simulated day (``CallCentreDay``) driving ``acd.engine.Engine``;
- ``load``, ``roster``: arrivals and durations; who is on duty per interval;
- ``figures``, ``confidence``, ``replications``: the report's figures (by the
  definitions of ``acd.metrics``) and their confidence intervals over independent days;
- ``needed``, ``plan``: Erlang C agents per interval, and the staffing search checked by
  simulation;
- ``output``, ``plots``, ``run_command``, ``plan_command``: CSV/JSON files, PNG plots
  and the ``acd-sim run`` / ``plan`` subcommands.
"""
from pathlib import Path

from acd.engine import refuse_stale_builds

# the day's model is compiled with the engine (setup.py): never run an older build of it
refuse_stale_builds(Path(__file__).parent)
