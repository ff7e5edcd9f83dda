"""The real rig: a sandboxed Asterisk, sipp phones and the local services (Redis,
PostgreSQL) that integration tests, benchmarks and the demo run against.

Nothing here is a mock: every piece starts the real program, on loopback, with ports
and directories of its own, and stops exactly what it started.
"""
