"""Nothing secret reaches a screen, a screenshot, the report, the audit log, the history or the webhook.

One rollout is driven every way a person or a pipeline drives it (CLI verbs, the console's keys,
`run`, `report`), with a kubeconfig token and a webhook URL that are secrets; then every
artefact those produced is searched for them.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from istio_fixtures import fk, guide, kubeconfig, write_config  # noqa: F401  (fixtures)
from tui.app.app import CanaryApp
from tui.assembly import build_controller
from tui.cli import main
from tui.config import load

KUBE_TOKEN = "fake-token-SECRET123"  # what FakeKube.write_kubeconfig puts in the kubeconfig
WEBHOOK_PATH = "/services/T0SECRET/B0SECRET/XyzSECRETwebhookKEY"


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[str] = []

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        type(self).bodies.append(self.rfile.read(length).decode())
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(monkeypatch):
    _Receiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}{WEBHOOK_PATH}"
    monkeypatch.setenv("CANARY_TEST_WEBHOOK", url)
    yield url
    server.shutdown()
    server.server_close()


def _secrets(url: str) -> list[str]:
    return [KUBE_TOKEN, url, WEBHOOK_PATH, "XyzSECRETwebhookKEY"]


async def test_no_secret_in_any_artefact(tmp_path, kubeconfig, guide, webhook, capsys):  # noqa: F811
    config_path = write_config(
        tmp_path, kubeconfig,
        audit={"file": str(tmp_path / "audit.jsonl")},
        history={"file": str(tmp_path / "history.json")},
        notify={"webhookEnv": "CANARY_TEST_WEBHOOK"},
    )
    cfg = str(config_path)
    produced: list[str] = []

    # The CLI, as a pipeline runs it.
    for argv in (["status", "--config", cfg, "--json"], ["status", "--config", cfg],
                 ["set-weight", "20", "--config", cfg, "--reason", "widen"],
                 ["set-weight", "150", "--config", cfg],
                 ["rollback", "--config", cfg, "--reason", "bridge call"]):
        main(argv)
        out, err = capsys.readouterr()
        produced += [out, err]

    # The console, as a person drives it: keys, a screenshot, the report key, large print.
    controller = build_controller(load(cfg))
    app = CanaryApp(controller, poll=False, screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.app.workers.wait_for_complete()
        controller.poll_once()
        for keys in (["plus"], ["w", "3", "0", "enter"], ["r", "y"], ["s"], ["R"], ["L"]):
            await pilot.press(*keys)
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            produced.append(app.export_screenshot())
        await pilot.press("L", "question_mark")
        await pilot.pause()
        produced.append(app.export_screenshot())
    # The event log itself, not only the part of it that fits on the screen.
    produced += [json.dumps(e.as_dict()) for e in controller.state().events]
    controller.close()

    # The report from the recorded history, both formats.
    for fmt in ("md", "json"):
        main(["report", "--config", cfg, "--format", fmt])
        produced += list(capsys.readouterr())

    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name not in ("kubeconfig",)]
    names = {p.name for p in files}
    assert {"audit.jsonl", "history.json"} <= names
    assert any(n.endswith(".svg") for n in names) and any(n.startswith("canary-report-") for n in names)
    produced += [p.read_text(errors="replace") for p in files]
    produced += _Receiver.bodies
    assert _Receiver.bodies, "the webhook was never called: the check would prove nothing"
    assert any("rolled back" in b.lower() or "rollback" in b.lower() for b in _Receiver.bodies)

    leaks = [(secret, text[:200]) for text in produced for secret in _secrets(webhook) if secret in text]
    assert not leaks, leaks
