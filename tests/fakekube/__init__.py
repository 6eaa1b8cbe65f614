"""A strict fake Kubernetes API server for tests (real HTTP on loopback)."""
from .fake import DEFAULT_TOKEN, DEFAULT_USER, FakeKube
from .hooks import RecordedRequest

__all__ = ["FakeKube", "RecordedRequest", "DEFAULT_TOKEN", "DEFAULT_USER"]
