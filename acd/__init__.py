"""ACD for Asterisk: a pure routing engine driven by a live daemon or a simulator."""
