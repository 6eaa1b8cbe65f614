"""The Istio traffic router: stable/canary weights in a VirtualService (networking.istio.io).

Importing this package does not import the kubernetes client; building an IstioRouter does.
"""

from tui.backends.istio.router import IstioRouter

__all__ = ["IstioRouter"]
