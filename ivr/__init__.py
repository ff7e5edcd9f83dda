"""The citizens' IVR: the menu tree (pure), the FastAGI handlers ``ivr`` and ``survey``,
and the prompts' audio built from the config. Opening hours and holidays are the
config's (``acd.config.calendar``); the skills a route carries, the call contract's."""
