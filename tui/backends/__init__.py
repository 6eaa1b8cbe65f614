"""Backends behind small interfaces: traffic routers and metric sources."""
