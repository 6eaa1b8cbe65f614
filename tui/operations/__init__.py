"""What a rollout leaves behind: its record and report, the audit trail, notifications.

Plain Python: no Textual, no Kubernetes. Every sink here takes the controller's
events through ``on_event(event)`` (``RolloutController.subscribe``) and must never
stop or slow the controller; secrets (webhook URLs, tokens) never reach output.

    record.py   RolloutRecord: the rollout's history in constant memory (save/load)
    report.py   build_report / render_markdown: the Canary Deployment Report
    audit.py    AuditLog: one JSON line per action; read_tail for the event panel
    notify.py   WebhookNotifier: Slack-compatible webhook, queued, retried, redacted
    secrets.py  redact and friends: keep tokens and webhook URLs out of text and logs
"""

from tui.operations.audit import AuditLog, read_tail
from tui.operations.notify import WebhookNotifier
from tui.operations.record import RolloutRecord
from tui.operations.report import build_report, render_markdown
from tui.operations.secrets import redact

__all__ = [
    "AuditLog",
    "RolloutRecord",
    "WebhookNotifier",
    "build_report",
    "read_tail",
    "redact",
    "render_markdown",
]
