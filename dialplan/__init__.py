"""The Asterisk side generated from the ACD config (``python -m dialplan``)."""
