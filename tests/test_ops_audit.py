"""The audit log: one JSON line per action with every field; threads never interleave; read_tail."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest

from tests.conftest import TEST_WHO, make_demo_controller
from tui.config import from_mapping
from tui.model import Event
from tui.operations.audit import ACTIONS, FIELDS, AuditError, AuditLog, read_tail

T0 = datetime(2027, 1, 15, 8, 0, 0, tzinfo=timezone.utc)


def ev(kind, frm=None, to=None, reason="", who="sre@bridge", ok=True, message=None):
    return Event(at=T0, kind=kind, message=message or f"{kind} done", who=who, from_canary=frm, to_canary=to,
                 reason=reason, ok=ok)


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("kind", ACTIONS)
def test_each_action_is_one_line_with_every_field(tmp_path, kind):
    path = tmp_path / "audit" / "deep" / "x.jsonl"  # parent directories are made
    log = AuditLog(path, "x0tta6bl4-app")
    log.on_event(ev(kind, 5, 10, reason="because"))
    (entry,) = lines(path)
    assert tuple(entry) == FIELDS
    assert entry == {
        "who": "sre@bridge",
        "when": "2027-01-15T08:00:00Z",
        "rollout": "x0tta6bl4-app",
        "action": kind,
        "from": 5,
        "to": 10,
        "reason": "because",
        "result": "ok",
        "message": f"{kind} done",
    }


@pytest.mark.parametrize("kind", ["info", "check", "poll", "error"])
def test_non_actions_are_not_written(tmp_path, kind):
    path = tmp_path / "a.jsonl"
    AuditLog(path, "app").on_event(ev(kind, who=""))
    assert not path.exists()


def test_refused_and_failed_results(tmp_path):
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, "app")
    log.on_event(ev("promote", 5, 100, ok=False, message="promote refused: read-only: writes are disabled"))
    log.on_event(ev("auto", ok=False, message="automatic progression ended: halted: no data for 2m00s",
                    who="automation"))
    log.on_event(ev("error", reason="errors", ok=False,
                    message="traffic moved to stable, but scaling the canary to 0 failed: forbidden"))
    results = [e["result"] for e in lines(path)]
    assert results == [
        "refused: read-only: writes are disabled",
        "failed: automatic progression ended: halted: no data for 2m00s",
        "failed: traffic moved to stable, but scaling the canary to 0 failed: forbidden",
    ]


def test_who_defaults_when_the_event_names_nobody(tmp_path):
    path = tmp_path / "a.jsonl"
    AuditLog(path, "app", who="ci@runner").on_event(ev("fault", who=""))
    assert lines(path)[0]["who"] == "ci@runner"


def test_secrets_are_masked(tmp_path):
    path = tmp_path / "a.jsonl"
    AuditLog(path, "app", secrets=["s3cr3t-token"]).on_event(ev("set-weight", 1, 2, reason="token s3cr3t-token"))
    text = path.read_text()
    assert "s3cr3t-token" not in text and "token ***" in text


def test_a_real_controller_writes_its_actions(tmp_path):
    path = tmp_path / "audit.jsonl"
    controller, clock = make_demo_controller()
    try:
        controller.subscribe(AuditLog(path, controller.config.name).on_event)
        controller.poll_once()
        assert controller.set_weight(20, reason="more").ok
        assert not controller.set_weight(101, reason="too much").ok
        assert controller.rollback(reason="stop").ok
    finally:
        controller.close()
    entries = lines(path)
    assert [(e["action"], e["from"], e["to"], e["result"]) for e in entries] == [
        ("set-weight", 5, 20, "ok"),
        ("set-weight", None, 101, "refused: weight must be between 0 and 100, got 101"),
        ("rollback", 20, 0, "ok"),
        ("rollback", None, None, "ok"),  # the scale-down that follows
    ]
    assert all(e["who"] == TEST_WHO and e["rollout"] == "x0tta6bl4-app" for e in entries)


def test_read_only_refusals_are_audited(tmp_path):
    path = tmp_path / "audit.jsonl"
    controller, _ = make_demo_controller(read_only=True)
    try:
        controller.subscribe(AuditLog(path, "app").on_event)
        controller.promote(reason="ship it")
    finally:
        controller.close()
    (entry,) = lines(path)
    assert entry["action"] == "promote" and entry["reason"] == "ship it"
    assert entry["result"] == "refused: read-only: writes are disabled"


def test_concurrent_writers_do_not_interleave(tmp_path):
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, "app")
    threads, per_thread = 8, 150
    long_reason = "r" * 20_000  # far above any pipe or page buffer

    def writer(n: int) -> None:
        for i in range(per_thread):
            log.on_event(ev("step", i % 100, (i + 1) % 100, reason=f"t{n}-{i}-{long_reason}", who=f"user{n}@h"))

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    entries = lines(path)  # every line parses: none torn or mixed
    assert len(entries) == threads * per_thread
    for n in range(threads):
        mine = [e for e in entries if e["who"] == f"user{n}@h"]
        assert [e["reason"].split("-")[1] for e in mine] == [str(i) for i in range(per_thread)]
        assert all(e["reason"].startswith(f"t{n}-") for e in mine)


def test_two_logs_on_one_file_append(tmp_path):
    path = tmp_path / "a.jsonl"
    a, b = AuditLog(path, "app"), AuditLog(path, "app")
    a.on_event(ev("step", 1, 2))
    b.on_event(ev("step", 2, 3))
    a.on_event(ev("step", 3, 4))
    assert [e["to"] for e in lines(path)] == [2, 3, 4]


def test_an_unwritable_path_raises_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    log = AuditLog(blocker / "audit.jsonl", "app")
    with pytest.raises(AuditError, match="cannot write"):
        log.on_event(ev("step", 1, 2))


def test_read_tail(tmp_path):
    path = tmp_path / "a.jsonl"
    assert read_tail(path, 10) == []  # no file yet
    log = AuditLog(path, "app")
    for i in range(300):
        log.on_event(ev("step", i, i + 1, reason="x" * (i % 7)))
    tail = read_tail(path, 5)
    assert [e["to"] for e in tail] == [296, 297, 298, 299, 300]
    assert [e["to"] for e in read_tail(path, 50, block=256)] == list(range(251, 301))  # read in small blocks
    assert len(read_tail(path, 1000)) == 300
    assert read_tail(path, 0) == []
    assert log.tail(2) == tail[-2:]


def test_read_tail_skips_a_torn_last_line(tmp_path):
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, "app")
    log.on_event(ev("step", 1, 2))
    log.on_event(ev("step", 2, 3))
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"who": "half a li')
    assert [e["to"] for e in read_tail(path, 5)] == [2, 3]


def test_from_config(tmp_path):
    on = from_mapping({"name": "app", "audit": {"file": str(tmp_path / "a.jsonl")}})
    off = from_mapping({"name": "app"})
    log = AuditLog.from_config(on)
    assert log is not None and log.rollout == "app" and log.path == tmp_path / "a.jsonl"
    assert AuditLog.from_config(off) is None


def test_an_audit_or_history_path_that_cannot_be_written_is_said_and_the_console_still_opens(tmp_path, capsys):
    """Before: `audit.file` under a file (a typo, a path meant for another host) ended every verb and
    the console itself in a traceback from reading the audit's tail; a history that could not be
    saved failed every poll's listener, every 5 s."""
    from tui.assembly import build_controller
    from tui.cli import main
    from tui.clock import ManualClock

    blocker = tmp_path / "file"
    blocker.write_text("")
    raw = {"name": "app", "router": {"kind": "demo"}, "metrics": {"kind": "demo", "interval": "2s"},
           "audit": {"file": str(blocker / "audit.jsonl")}, "history": {"file": str(blocker / "history.json")}}
    clock = ManualClock(start=1_800_000_000.0)
    controller = build_controller(from_mapping(raw), clock=clock, who=TEST_WHO)
    try:
        for _ in range(10):
            clock.advance(6)
            controller.poll_once()
        errors = [e.message for e in controller.state().events if e.kind == "error"]
        assert errors[0] == (f"audit log {blocker / 'audit.jsonl'}: cannot write: Not a directory: changes are "
                             "not audited there (the event log, the report and the router's change note still "
                             "record them)")
        saves = [m for m in errors if m.startswith("history")]
        assert saves == [f"history {blocker / 'history.json'}: cannot write: Not a directory (the report will "
                         "lack what this console saw since)"]  # once, not at every save
        assert controller.set_weight(10, reason="test").ok  # the console still steers
    finally:
        controller.close()

    import yaml
    config = tmp_path / "app.yaml"
    config.write_text(yaml.safe_dump(raw))
    capsys.readouterr()
    assert main(["set-weight", "10", "--reason", "test", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "warning: audit log" in err and "cannot write: Not a directory" in err, err
    assert main(["--speed", "max", "run", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"run: warning: audit log {blocker / 'audit.jsonl'}: cannot write"), err
    assert f"run: warning: history {blocker / 'history.json'}: cannot write" in err
