"""The citizens' IVR: the menu tree (pure), Greek holidays and hours, the FastAGI
handlers ``ivr`` and ``survey``, and the prompts' audio built from the config."""
