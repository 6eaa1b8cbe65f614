"""The console: panels over a polling controller, keys that act through it.

Blocking work (polls, writes) runs in thread workers that only post messages;
each message carries a whole ConsoleState that the UI applies in one batch.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from rich.text import Text
from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.geometry import Size
from textual.message import Message
from textual.widgets import Static

from tui.app.commands import VERBS, Command, CommandError, Verb, parse, suggestions, verb_named
from tui.app.layout import PANEL_CHROME, TRAFFIC_COLUMNS, body_rows
from tui.app.screens.bridge import BridgeScreen
from tui.app.screens.checks import CheckDetailScreen
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.events import EventLogScreen
from tui.app.screens.help import HelpScreen
from tui.app.screens.prompt import PromptScreen
from tui.app.screens.weight import WeightScreen
from tui.app.widgets.charts import MetricChart
from tui.app.widgets.checks import RESULT_STYLE, ChecksPanel
from tui.app.widgets.events import EventPanel
from tui.app.widgets.footer import FittingFooter
from tui.app.widgets.status import StatusHeader
from tui.app.widgets.traffic import MeasuredShare, TrafficPanel
from tui.config.keys import KEY_DEFAULTS, display_keys, key_hint
from tui.controller import ActionResult, ConsoleState, RolloutController
from tui.formatting import RESULT_MARK
from tui.model import Result

TOAST_S = 5.0  # how long an action's result stays in its corner (Textual's default)
MUTATING = {"step_up", "step_down", "set_weight", "promote", "rollback", "toggle_auto", "cycle_fault"}


class StateUpdated(Message):
    def __init__(self, state: ConsoleState) -> None:
        super().__init__()
        self.state = state


class ActionFinished(Message):
    def __init__(self, result: ActionResult, state: ConsoleState) -> None:
        super().__init__()
        self.result, self.state = result, state


class CanaryApp(App[None]):
    CSS_PATH = "canary.tcss"
    TITLE = "canary-console"
    ENABLE_COMMAND_PALETTE = False

    # Each binding's id is its action's name in the config's `keys:` section (tui.config.keys), which
    # also holds the default keys: `keys: {rollback: ctrl+r}` rebinds through Textual's keymap.
    BINDINGS = [
        Binding(KEY_DEFAULTS["stepUp"], "step_up", "Up", id="stepUp"),
        Binding(KEY_DEFAULTS["stepDown"], "step_down", "Down", id="stepDown"),
        Binding(KEY_DEFAULTS["weight"], "set_weight", "Weight", id="weight"),
        Binding(KEY_DEFAULTS["promote"], "promote", "Promote", id="promote"),
        Binding(KEY_DEFAULTS["rollback"], "rollback", "Rollback", id="rollback"),
        Binding(KEY_DEFAULTS["auto"], "toggle_auto", "Auto", id="auto"),
        Binding(KEY_DEFAULTS["fault"], "cycle_fault", "Fault", id="fault"),
        # in the help, not the footer: the footer keeps every other key visible at 120 columns
        Binding(KEY_DEFAULTS["screenshot"], "screenshot", "Screenshot", show=False, id="screenshot"),
        Binding(KEY_DEFAULTS["report"], "report", "Report", id="report"),
        Binding(KEY_DEFAULTS["largePrint"], "large_print", "Large", id="largePrint"),
        Binding(KEY_DEFAULTS["help"], "help", "Help", id="help"),
        Binding(KEY_DEFAULTS["command"], "command", "Command", id="command"),
        Binding(KEY_DEFAULTS["filter"], "filter", "Filter", show=False, id="filter"),
        Binding(KEY_DEFAULTS["events"], "event_log", "Events", show=False, id="events"),
        Binding(KEY_DEFAULTS["details"], "check_details", "Details", show=False, id="details"),
        Binding("escape", "clear_filter", "Show all events", show=False),
        Binding(KEY_DEFAULTS["quit"], "quit", "Quit", id="quit"),
    ]

    # (binding id, what it does, action): the help lists the keys actually bound
    HELP = [
        ("stepUp", "step the canary weight up by rollout.stepWeight (asks first while the checks fail, "
                   "and to 100%: a promotion)", "step_up"),
        ("stepDown", "step the canary weight down by rollout.stepWeight", "step_down"),
        ("weight", "set an exact canary weight (0-100; more asks first while the checks fail; 100 is a "
                   "promotion and asks)", "set_weight"),
        ("promote", "promote: canary 100% (asks first)", "promote"),
        ("rollback", "rollback: canary 0%, canary scaled to 0 (asks first)", "rollback"),
        ("auto", "automatic progression on / off; resumes after a manual hold", "toggle_auto"),
        ("fault", "demo and lab: cycle the canary fault none → errors → latency → down", "cycle_fault"),
        ("screenshot", "save an SVG screenshot of the screen", "screenshot"),
        ("report", "write the Canary Deployment Report (Markdown) from the recorded history", "report"),
        ("largePrint", "large print for a shared screen: weights, verdict, p95s, error rates, last decision",
         "large_print"),
        ("help", "this help", "help"),
        ("command", "a command, with your reason: weight 20 p95 fine, rollback 5xx on /pay (see below)", "command"),
        ("filter", "show only the events containing a text (Esc: all events)", "filter"),
        ("events", "every event held (the last 500), scrollable; the filter applies", "event_log"),
        ("details", "every check in full: the whole bound (how it was derived) and the whole reason", "check_details"),
        ("quit", "quit (the rollout stays where it is)", "quit"),
    ]

    def __init__(self, controller: RolloutController, poll: bool = True,
                 screenshot_dir: str | Path = ".", large_print: bool = False) -> None:
        super().__init__()
        self.controller = controller
        self.keys = controller.config.keys
        self.set_keymap({action: keys for action, keys in self.keys.items() if keys != KEY_DEFAULTS[action]})
        self.start_large = large_print
        self.poll_enabled = poll
        self.screenshot_dir = Path(screenshot_dir)
        self.state: ConsoleState | None = None
        self._last_toast: tuple[str, float] | None = None  # (what, when): a repeat within its life is not stacked
        # Called with the signal's number on SIGHUP or SIGTERM, before the app exits (cli: HangupWatchdog.start).
        self.hangup_watch: Callable[[int], None] | None = None
        criteria = controller.config.criteria
        self._charts = (
            MetricChart("p95 ms", "ms", lambda p: p.stable_p95, lambda p: p.canary_p95,
                        criteria.p95_max_ms, f"bound {criteria.p95_max_ms:.0f} ms", id="latency"),
            MetricChart("errors %", "%", lambda p: p.stable_error, lambda p: p.canary_error,
                        criteria.error_max, f"bound {criteria.error_max * 100:.2f}%", scale=100.0, id="errors"),
        )

    # --- layout --------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        yield Static("", id="banner")
        with Grid(id="body"):
            yield ChecksPanel(id="checks", classes="panel")
            yield TrafficPanel(float(self.controller.config.metrics["window"]), id="traffic", classes="panel")
            for chart in self._charts:
                chart.add_class("panel")
                yield chart
            yield EventPanel(id="events", classes="panel")
        yield FittingFooter()

    def on_mount(self) -> None:
        self._exit_on_hangup()
        self.query_one(EventPanel).more_hint = f"{self._bound_key('events')}: all"
        self.apply_state(self.controller.state())
        if self.start_large:
            self.action_large_print()
        if self.poll_enabled:
            speed = float(getattr(self.controller.clock, "speed", 1.0))
            self.run_worker(self._start_work, thread=True, exit_on_error=False, group="poll")
            self.set_interval(self.controller.config.interval_s / speed, self.request_poll)
            self.set_interval(1.0, self._tick)

    def _exit_on_hangup(self) -> None:
        """A closed terminal (SIGHUP: a dropped SSH session, a killed tmux pane) or a `kill` (SIGTERM)
        quits as `q` does, so whoever started the console cleans up after it: the lease released,
        the lab's Prometheus and services stopped. By default either signal ends the process at
        once and leaves them running."""
        if self.is_headless:
            return  # a test's app: the signals belong to the test runner
        loop = asyncio.get_running_loop()

        # A plain handler, not the loop's (add_signal_handler): a loop blocked on a terminal nobody
        # reads (Textual's bounded writer queue full) never runs its own, and the console lived on.
        def told_to_quit(signum: int, frame: object) -> None:
            if self.hangup_watch is not None:
                self.hangup_watch(signum)  # the exit below can hang just the same (tui/hangup.py)
            try:
                loop.call_soon_threadsafe(self.exit)
            except RuntimeError:  # the loop has closed: the app is gone already
                pass

        for sig in (signal.SIGHUP, signal.SIGTERM):
            try:
                signal.signal(sig, told_to_quit)
            except (ValueError, OSError, AttributeError):  # not the main thread, or no such signal here
                pass

    def on_resize(self, event: events.Resize) -> None:
        # This handler runs before App's own, which is where self.size learns the new size.
        self._layout(event.size)

    def _layout(self, size: Size | None = None) -> None:
        """Row heights from what there is to show (layout.py); a small terminal hides the charts and says so."""
        size = size or self.size
        body = self.query_one("#body")
        verdict = self.state.verdict if self.state else None
        traffic = self.query_one(TrafficPanel)
        rows = body_rows(size.width, size.height, banner=1 if self.query_one("#banner").display else 0,
                         checks=len(verdict.checks) if verdict else None,
                         routes=len(traffic.lines(TRAFFIC_COLUMNS - PANEL_CHROME)) if traffic.split else None,
                         weights=traffic.kept_lines(size.width - PANEL_CHROME))
        body.set_class(rows.narrow, "-narrow")
        body.set_class(rows.compact, "-compact")
        traffic.border_subtitle = (f"charts hidden: {size.width}x{size.height} is too small"
                                   if rows.compact else "")
        # A panel given no rows keeps its grid cell (hidden, the split would move into its row).
        body.styles.grid_rows = f"{rows.top} 1fr {rows.events}"

    # --- polling: workers post, the UI applies ---------------------------

    def _start_work(self) -> None:
        self.controller.resume_automation()
        self.controller.backfill()
        self._poll_work()

    def _poll_work(self) -> None:
        state = self.controller.poll_once()
        if state is not None:
            self.post_message(StateUpdated(state))

    def request_poll(self) -> None:
        self.run_worker(self._poll_work, thread=True, exit_on_error=False, group="poll")

    def _tick(self) -> None:
        now = self.controller.clock.time()
        for header in self.query(StatusHeader):
            header.tick(now)
        if isinstance(self.screen, (BridgeScreen, EventLogScreen, CheckDetailScreen)):
            for header in self.screen.query(StatusHeader):  # none yet while it is being composed
                header.tick(now)

    @on(StateUpdated)
    def _on_state(self, message: StateUpdated) -> None:
        self.apply_state(message.state)

    @on(ActionFinished)
    def _on_action(self, message: ActionFinished) -> None:
        self.apply_state(message.state)
        title = "done" if message.result.ok else "not done"
        # A held key refused seven times stacked seven identical toasts over the charts; the event
        # log keeps every one.
        now = time.monotonic()
        seen = self._last_toast
        if seen is not None and seen[0] == title + message.result.message and now - seen[1] < TOAST_S:
            return
        self._last_toast = (title + message.result.message, now)
        self.notify(message.result.message, severity="information" if message.result.ok else "error",
                    title=title, timeout=TOAST_S)

    def apply_state(self, state: ConsoleState) -> None:
        """Every panel from one state, in one batch: no half-updated screen."""
        if self.state is not None and self.state.read_only != state.read_only:
            self.refresh_bindings()  # the lease changed hands: show or hide the keys that write
        self.state = state
        now = state.now.timestamp()
        with self.batch_update():
            self.query_one(StatusHeader).show(state, now)
            measured = None if state.stale else MeasuredShare.of(state.snapshot)
            silent = state.verdict.silent if state.verdict is not None and not state.stale else None
            traffic = self.query_one(TrafficPanel)
            traffic.show(state.split, state.steps, state.promote, state.now, measured,
                         moved_at=state.weights_moved_at, silent=silent,
                         read_at=state.split_read_at if state.weights_stale else None,
                         route_fails=state.route_fails)
            traffic.set_class(state.weights_stale, "-stale")
            self.query_one(ChecksPanel).show(state.verdict, state.data_problem)
            for chart in self._charts:
                chart.show(state.history, now)
                chart.set_class(state.stale, "-stale")
            self.query_one(EventPanel).show(state.events)
            banner = self.query_one("#banner", Static)
            banner.display = state.read_only
            if state.read_only:
                banner.update(f"READ-ONLY ({state.read_only_reason or 'watching'}): every write is disabled")
            self._layout()
            if isinstance(self.screen, BridgeScreen):
                self.screen.show(state, now)
            if isinstance(self.screen, EventLogScreen):
                self.screen.show(state, self.query_one(EventPanel).filter_text)
            if isinstance(self.screen, CheckDetailScreen):
                self.screen.show(state)
            if isinstance(self.screen, ConfirmScreen):
                self.screen.update_checks(self._checks_now(), self._verdict_now())

    # --- actions: dialogs on the UI thread, writes in workers --------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MUTATING and self.controller.read_only:
            return False  # hidden from the footer and refused
        if action == "cycle_fault" and self.controller.fault_switch is None:
            return False
        return True

    def _act(self, work) -> None:
        def run() -> None:
            result = work()
            self.post_message(ActionFinished(result, self.controller.state()))

        self.run_worker(run, thread=True, exit_on_error=False, group="action")

    def _key(self, binding: str) -> str:
        """The reason a key press records: the key as bound ("key r", or "key ctrl+r" when rebound)."""
        return "key " + self._bound_key(binding)

    def _bound_key(self, binding: str) -> str:
        """The first key an action is bound to, as the footer names it ("r", or "ctrl+r" when rebound)."""
        return key_hint(self.keys, binding)

    def action_step_up(self) -> None:
        self._step_up(self._key("stepUp"))

    def _step_up(self, reason: str) -> None:
        split = self.state.split if self.state else None
        current = split.canary_weight if split else None
        target = None if current is None else min(100, current + self.controller.config.rollout.step_weight)
        self._more_traffic(target, reason, lambda why, seen: self.controller.step(+1, reason=why, confirmed_from=seen,
                                                                                 promotion_ok=False))

    def _set_weight(self, target: int, reason: str) -> None:
        self._more_traffic(target, reason,
                           lambda why, seen: self.controller.set_weight(target, reason=why, confirmed_from=seen,
                                                                        promotion_ok=False))

    def _more_traffic(self, target: int | None, reason: str, write) -> None:
        """More traffic to a canary its checks fail asks first, as a promotion does: under stress
        "+" is one key away from "-", and a weight change makes the judge start afresh, so the
        failure it had shown would be gone from the screen. `write(reason, confirmed_from)`."""
        state = self.state
        split = state.split if state else None
        current = split.canary_weight if split else None
        if target == 100 and current is not None and current < 100:
            # 100% is a promotion however it is typed (`+` at 95%, `w 100`): it asks as `p` does. A
            # write that reaches 100% unasked (keys pressed faster than the screen follows) is refused.
            self._confirm_promote(reason + " (confirmed)", seen=current)
            return
        failing = (state is not None and not state.stale and state.verdict is not None
                   and state.verdict.result is Result.FAIL)
        if not failing or target is None or current is None or target <= current:
            self._act(lambda: write(reason, None))
            return
        confirmed = reason + " (confirmed over failing checks)"

        def done(yes: bool | None) -> None:
            if yes:  # from the weight the dialog showed, or not at all
                self._act(lambda: write(confirmed, current))

        self.push_screen(ConfirmScreen(f"More traffic to a canary its checks fail: {current}% -> {target}%?",
                                       "The judge starts afresh at the new weight; "
                                       f"{self._bound_key('rollback')} rolls back instead.",
                                       confirmed, checks=self._checks_now(), verdict=self._verdict_now(),
                                       ask_again_on_change=True), done)

    def action_step_down(self) -> None:
        self._act(lambda: self.controller.step(-1, reason=self._key("stepDown")))

    def action_set_weight(self) -> None:
        split = self.state.split if self.state else None

        def done(value: int | None) -> None:
            if value is not None:
                self._set_weight(value, self._key("weight"))

        self.push_screen(WeightScreen(split.canary_weight if split else None, split.diverged if split else ()), done)

    def action_promote(self) -> None:
        self._confirm_promote(self._key("promote") + " (confirmed)")

    def _confirm_promote(self, reason: str, seen: int | None = None) -> None:
        """`seen`: the weight the question showed, when it came from a weight key (`+` at 95%):
        if the weights moved meanwhile, nothing is sent."""
        def done(yes: bool | None) -> None:
            if yes:
                self._act(lambda: self.controller.promote(reason=reason, confirmed_from=seen))

        question = "Promote: send 100% of traffic to the canary?"
        if seen is not None:
            question = f"Promote: canary {seen}% -> 100%, every request to the canary?"
        self.push_screen(ConfirmScreen(question, "Every driven route gets canary 100 / stable 0.", reason,
                                       checks=self._checks_now(), verdict=self._verdict_now(),
                                       ask_again_on_change=True), done)

    def action_rollback(self) -> None:
        self._confirm_rollback(self._key("rollback") + " (confirmed)")

    def _confirm_rollback(self, reason: str) -> None:
        def done(yes: bool | None) -> None:
            if yes:
                self._act(lambda: self.controller.rollback(reason=reason))

        detail = "Every driven route gets canary 0 / stable 100."
        split = self.state.split if self.state else None
        kept = split.opt_in_canary_routes if split else ()
        if kept:
            # Said before the decision, not only after: those requests will fail on a canary at 0 pods.
            names = ", ".join(r.label for r in kept)
            detail += (f" Left as is: {names} (not driven) still send{'s' if len(kept) == 1 else ''} "
                       "requests to the canary, and they fail once it is at 0.")
        self.push_screen(ConfirmScreen("Rollback: send all traffic to stable and scale the canary to 0?",
                                       detail, reason, checks=self._checks_now(), verdict=self._verdict_now()), done)

    def _verdict_now(self) -> object:
        """What a question is asked on: the verdict's result, or why there is none (stale data)."""
        state = self.state
        if state is None or state.verdict is None:
            return None
        return "stale" if state.data_problem else state.verdict.result

    def _checks_now(self) -> Text | None:
        """The verdict and its one-line reason, for a confirmation: stale data said as such."""
        state = self.state
        if state is None or state.verdict is None:
            return None
        if state.data_problem:
            return Text(f"Checks now: {state.data_problem}", style="bold red")
        verdict = state.verdict
        line = Text()
        line.append("Checks now: ", style="bold")
        line.append(RESULT_MARK[verdict.result], style=f"bold {RESULT_STYLE[verdict.result]}")
        if verdict.summary:
            line.append(f" · {verdict.summary}")
        return line

    def action_toggle_auto(self) -> None:
        self._act(lambda: self.controller.toggle_auto(reason=self._key("auto")))

    def action_cycle_fault(self) -> None:
        # The next fault is chosen in the worker, after the previous press's: "f f f" read "none"
        # three times here and injected "errors" three times.
        self._act(self.controller.cycle_fault)

    def action_screenshot(self) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        try:
            self.screenshot_dir.mkdir(parents=True, exist_ok=True)
            path = self.save_screenshot(f"canary-console-{stamp}.svg", str(self.screenshot_dir))
        except OSError as exc:  # a read-only or full directory must not end the console
            self.notify(f"screenshot not saved in {self.screenshot_dir.resolve()}: {exc.strerror or exc}",
                        severity="error", title="not done")
            return
        self.notify(f"saved {path}")

    def action_large_print(self) -> None:
        if isinstance(self.screen, BridgeScreen):
            self.screen.dismiss(None)
            return
        screen = BridgeScreen()
        self.push_screen(screen)
        if self.state is not None:
            self.call_after_refresh(screen.show, self.state, self.state.now.timestamp())

    def action_report(self) -> None:
        def write() -> None:
            from tui.operations.report import build_report, render_markdown

            record = getattr(self.controller, "rollout_record", None)
            if record is None:
                self.call_from_thread(self.notify, "no recorded history", severity="error")
                return
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            path = self.screenshot_dir / f"canary-report-{self.controller.config.name}-{stamp}.md"
            text = render_markdown(build_report(record, self.controller.config))
            try:
                self.screenshot_dir.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            except OSError as exc:  # said, not a worker failing in silence
                self.call_from_thread(self.notify, f"report not written to {path.resolve()}: {exc.strerror or exc}",
                                      severity="error", title="not done")
                return
            self.call_from_thread(self.notify, f"report written to {path}")

        self.run_worker(write, thread=True, exit_on_error=False, group="report")

    def action_help(self) -> None:
        keys = [(display_keys(self.keys[binding]), what) for binding, what, action in self.HELP
                if self.check_action(action, ()) is not False]
        commands = [(":" + v.usage, v.what) for v in VERBS if self._command_allowed(v) is None]
        about = (f"{self.controller.config.name} · {self.controller.router.describe()} · "
                 f"{self.controller.metrics.describe()}" + (" · READ-ONLY" if self.controller.read_only else ""))
        self.push_screen(HelpScreen(keys, about, commands))

    # --- the `:` command line and the `/` event filter ----------------------

    def _command_allowed(self, verb: Verb) -> str | None:
        """Why `verb` cannot run now, or None."""
        if verb.writes and self.controller.read_only:
            return f"{verb.name}: read-only, every write is disabled"
        if verb.name == "fault" and self.controller.fault_switch is None:
            return "fault: only the demo has faults"
        return None

    def _check_command(self, line: str) -> str | None:
        try:
            command = parse(line)
        except CommandError as exc:
            return str(exc)
        return self._command_allowed(verb_named(command.verb))

    def action_command(self) -> None:
        def done(line: str | None) -> None:
            if line:
                self.run_command(parse(line), line.strip())

        self.push_screen(PromptScreen(":", "a command and your reason (Tab completes, Enter runs, Esc cancels)",
                                      suggestions=suggestions(), check=self._check_command), done)

    def run_command(self, command: Command, typed: str) -> None:
        """Carry out a parsed command: the same paths as the keys, with the operator's reason."""
        c, verb = self.controller, command.verb
        asked = f"command :{typed.removeprefix(':').strip()}"
        if verb == "weight":
            self._set_weight(int(command.value), command.reason(asked))
        elif verb == "up":
            self._step_up(command.reason(asked))
        elif verb == "down":
            self._act(lambda: c.step(-1, reason=command.reason(asked)))
        elif verb == "promote":
            self._confirm_promote(command.reason(asked + " (confirmed)"))
        elif verb == "rollback":
            self._confirm_rollback(command.reason(asked + " (confirmed)"))
        elif verb == "scale":
            self._act(lambda: c.scale_canary(int(command.value), reason=command.reason(asked)))
        elif verb == "auto":
            if command.value is None:
                self.action_toggle_auto()
            else:
                self._act(lambda: c.set_automation(command.value == "on"))
        elif verb == "fault":
            self._act(lambda: c.set_fault(str(command.value)))
        elif verb == "filter":
            self._set_event_filter(str(command.value or ""))
        else:
            getattr(self, {"report": "action_report", "screenshot": "action_screenshot",
                           "large": "action_large_print", "events": "action_event_log", "help": "action_help",
                           "details": "action_check_details",
                           "quit": "action_quit"}[verb])()

    def action_filter(self) -> None:
        events = self.query_one(EventPanel)
        before = events.filter_text

        def done(text: str | None) -> None:
            self._set_event_filter(before if text is None else text)

        self.push_screen(PromptScreen("/", "show only the events containing (Enter keeps it, Esc restores)",
                                      value=before, on_change=self._set_event_filter), done)

    def _set_event_filter(self, text: str) -> None:
        self.query_one(EventPanel).set_filter(text)
        if isinstance(self.screen, EventLogScreen):
            self.screen.show(self.screen.state, text)

    def action_event_log(self) -> None:
        if isinstance(self.screen, EventLogScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(EventLogScreen(self.state or self.controller.state(),
                                        self.query_one(EventPanel).filter_text))

    def action_check_details(self) -> None:
        if isinstance(self.screen, CheckDetailScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(CheckDetailScreen(self.state or self.controller.state(), self.controller.config.judge))

    def action_clear_filter(self) -> None:
        self._set_event_filter("")
