"""Live canary-vs-stable charts with the criterion's threshold drawn."""

from __future__ import annotations

from typing import Callable

from textual_plotext import PlotextPlot

from tui.app.palette import CANARY, CANARY_RGB, STABLE, STABLE_RGB, THRESHOLD_RGB
from tui.controller.history import HistoryPoint

Series = Callable[[HistoryPoint], float | None]


class MetricChart(PlotextPlot):
    """One metric, both versions, over the history window; x in minutes before now."""

    def __init__(self, title: str, unit: str, stable: Series, canary: Series, threshold: float | None,
                 threshold_label: str, scale: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title, self.unit = title, unit
        self.stable_of, self.canary_of = stable, canary
        self.threshold, self.threshold_label = threshold, threshold_label
        self.scale = scale
        self.points: tuple[HistoryPoint, ...] = ()
        self.now: float | None = None
        # The series are named in the title, in their colours, rather than by a legend that
        # would cover the lines on a short chart.
        self.border_title = f"{title} · [{STABLE}]stable[/] vs [{CANARY}]canary[/]"
        self.threshold_note = f"red: {threshold_label} · " if threshold is not None else ""
        self.border_subtitle = self.threshold_note + "x: minutes ago"

    def show(self, points: tuple[HistoryPoint, ...], now: float | None) -> None:
        self.points, self.now = points, now
        self.replot()

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def on_resize(self) -> None:
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if not self.points:
            plt.title("waiting for data")
            self.refresh()
            return
        now = self.now if self.now is not None else self.points[-1].t
        # Minutes on the x axis, or seconds while the history is short (no "-0.329 minutes").
        unit = 60.0 if now - self.points[0].t >= 180 else 1.0
        self.border_subtitle = self.threshold_note + ("x: minutes ago" if unit == 60 else "x: seconds ago")
        ymax = 0.0
        # A chart has ~2 dots per cell: more points than that only cost CPU. Each bucket shows its
        # worst value, so a short spike is never averaged away.
        per_bucket = max(1, len(self.points) // max(1, 2 * self.size.width))
        for series, colour in ((self.stable_of, STABLE_RGB), (self.canary_of, CANARY_RGB)):
            xs, ys = [], []
            for start in range(0, len(self.points), per_bucket):
                bucket = self.points[start:start + per_bucket]
                values = [v for v in map(series, bucket) if v is not None]
                if values:
                    xs.append((bucket[-1].t - now) / unit)
                    ys.append(max(values) * self.scale)
            if xs:
                plt.plot(xs, ys, color=colour, marker="hd")
                ymax = max(ymax, max(ys))
        if self.threshold is not None:
            y = self.threshold * self.scale
            plt.hline(y, THRESHOLD_RGB)
            ymax = max(ymax, y)
        start = (self.points[0].t - now) / unit
        plt.xlim(min(start, -0.1), 0)
        plt.ylim(0, ymax * 1.15 if ymax > 0 else 1)
        self.refresh()
