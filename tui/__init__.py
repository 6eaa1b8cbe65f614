"""canary-console: a keyboard-driven terminal console for canary rollouts."""

__version__ = "0.1.0"
