"""The live ACD daemon: the pure engine driven by a real Asterisk.

- ``app``: wiring (``Daemon``): config, engine, FastAGI server, AMI link, signals.
- ``live_engine``: the one door into the engine; decisions fan out to the waiting room
  (commands) and to subscribers (queue_log, records, live state, API, figures).
- ``waiting_room``: the ``wait`` FastAGI handler; each caller waits in its own session
  and Dials the agent the engine picked.
- ``agents_phone``: the ``agent`` handler (feature codes with PIN and lockout).
- ``ami_bridge``: AMI events in (answer, hang-ups, phones' reachability) and resync.
- ``callbacks``: callbacks placed over AMI Originate, agent first.
- ``clock``: the engine's timers on the event loop; ``roster``: agents' logins kept
  across restarts; ``queue_log``: Asterisk's queue_log format.

What the daemon feeds and the API reads lives below both: ``acd.live_figures`` (live
report figures by acd.metrics) and ``acd.registrations`` (the agents' phones as the
registrar sees them).
"""
