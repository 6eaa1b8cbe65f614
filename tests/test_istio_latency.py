"""Key-to-PATCH latency: from calling set_canary_weight (client loaded) to the PATCH arriving.

Measured against the fake API server on loopback: the fake records each request's arrival
with time.monotonic(), the same clock as the caller. Median of 50 writes; the goal is <= 50 ms.
Run it directly to see the numbers:  .venv/bin/python tests/test_istio_latency.py
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

try:  # `tests` may or may not be a package, depending on how pytest is run
    from tests.fakekube import FakeKube
except ModuleNotFoundError:
    from fakekube import FakeKube
import yaml

from tui.backends.istio import IstioRouter
from tui.config import load
from tui.model import WeightChange

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS = 50.0
SAMPLES = 50


def _change(to: int) -> WeightChange:
    return WeightChange(who="bench", at=datetime.now(timezone.utc), from_canary=None, to_canary=to,
                        reason="latency", action="set-weight")


def measure(tmp: Path, samples: int = SAMPLES, read_first: bool = True) -> list[float]:
    """Milliseconds from the call to the PATCH's arrival, one per write.

    read_first: the controller reads the split just before a write (its usual path); the
    router starts from that object. False: every write starts cold, with its own GET.
    """
    with FakeKube() as fk:
        for name in ("virtualservice.yaml", "destinationrule.yaml", "canary-deployment.yaml"):
            for obj in yaml.safe_load_all((ROOT / "configs" / "k8s" / name).read_text()):
                if obj:
                    fk.put_object(obj)
        path = fk.write_kubeconfig(tmp / "kubeconfig")
        router = IstioRouter.from_config(load(ROOT / "configs" / "x0tta6bl4-app.yaml"), kubeconfig=path)
        try:
            router.read()  # client loaded, connection open, DestinationRules checked
            out = []
            for i in range(samples):
                if read_first:
                    router.read()
                else:
                    router._last = None  # noqa: SLF001 - force the cold path
                fk.clear_requests()
                start = time.monotonic()
                router.set_canary_weight(10 if i % 2 else 20, _change(10 if i % 2 else 20))
                (patch,) = fk.requests_to("PATCH")
                out.append((patch.time - start) * 1000)
            return out
        finally:
            router.close()


def test_key_to_patch_latency(tmp_path, record_property):
    warm = statistics.median(measure(tmp_path))
    cold = statistics.median(measure(tmp_path, read_first=False))
    record_property("median_key_to_patch_ms", round(warm, 2))
    record_property("median_key_to_patch_cold_ms", round(cold, 2))
    assert warm <= GOAL_MS, f"median key-to-PATCH {warm:.1f} ms > {GOAL_MS} ms"
    assert cold <= GOAL_MS, f"median key-to-PATCH (cold, GET first) {cold:.1f} ms > {GOAL_MS} ms"


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        for label, read_first in (("after a read (the controller's path)", True), ("cold: GET then PATCH", False)):
            ms = measure(Path(d), read_first=read_first)
            print(f"{label}: median {statistics.median(ms):.2f} ms, p90 "
                  f"{statistics.quantiles(ms, n=10)[-1]:.2f} ms, max {max(ms):.2f} ms over {len(ms)} writes",
                  file=sys.stdout)
