"""Live canary-vs-stable charts with the criterion's threshold drawn."""

from __future__ import annotations

import math
from typing import Callable

from textual_plotext import PlotextPlot

from tui.app.palette import CANARY, CANARY_RGB, STABLE, STABLE_RGB, THRESHOLD_RGB
from tui.app.widgets.wrapping import border_title_that_fits
from tui.controller.history import HistoryPoint

Series = Callable[[HistoryPoint], float | None]


def nice_ticks(low: float, high: float, most: int, multiples: tuple[float, ...] = (1, 2, 2.5, 5)) -> list[float]:
    """The most ticks, up to `most`, in [low, high] at a round step (a multiple of a power of ten):
    "-20 -15 -10 -5 0" minutes and "0 100 … 500" ms read at a glance; "-15.4" and "479.2" do not."""
    span = high - low
    if span <= 0 or most < 2:
        return []
    magnitude = 10 ** math.floor(math.log10(span / most))
    for step in (m * magnitude * k for k in (1, 10, 100) for m in multiples):
        first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
        if last - first + 1 <= most:
            return [round(i * step, 10) for i in range(first, last + 1)]
    return []


def tick_label(value: float, step: float) -> str:
    """As many decimals as the step needs (500, 2.5, 0.25), and never "-0"."""
    decimals = next((d for d in range(4) if abs(round(step, d) - step) < 1e-9), 3)
    text = f"{value:.{decimals}f}"
    return "0" if float(text) == 0 else text


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
        self.unit_s = 60.0
        self.fit_titles()

    def fit_titles(self) -> None:
        """The longest title and subtitle the border holds: on a narrow chart "errors % · stab…" and
        "red: bound 1.00…" said less than "errors %" and "1.00% · min ago". The colours are the
        console's throughout (the bars, the checklist's columns), so the legend goes first."""
        legend_long = f"[{STABLE}]stable[/] vs [{CANARY}]canary[/]"
        legend_short = f"[{STABLE}]stable[/]/[{CANARY}]canary[/]"
        self.border_title = border_title_that_fits(self.size.width, (
            f"{self.title} · {legend_long}", f"{self.title} · {legend_short}", self.title))
        ago = "minutes" if self.unit_s == 60 else "seconds"
        bound = self.threshold_label
        short_bound = bound.removeprefix("bound ")
        variants = ((f"red: {bound} · x: {ago} ago", f"{bound} · {ago} ago", f"{short_bound} · {ago[:3]} ago")
                    if self.threshold is not None else ())
        self.border_subtitle = border_title_that_fits(self.size.width, (*variants, f"x: {ago} ago", f"{ago[:3]} ago"))

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
            self.fit_titles()
            plt.title("waiting for data")
            self.refresh()
            return
        now = self.now if self.now is not None else self.points[-1].t
        # Minutes on the x axis, or seconds while the history is short (no "-0.329 minutes").
        unit = 60.0 if now - self.points[0].t >= 180 else 1.0
        self.unit_s = unit
        self.fit_titles()
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
        start = min((self.points[0].t - now) / unit, -0.1)
        top = ymax * 1.15 if ymax > 0 else 1
        plt.xlim(start, 0)
        plt.ylim(0, top)
        # Round ticks, as many as the chart's size holds (a label is up to 5 cells wide).
        width, height = self.size.width, self.size.height
        xs = nice_ticks(start, 0, max(2, min(6, (width - 6) // 8)), multiples=(1, 2, 5))
        ys = nice_ticks(0, top, max(2, min(8, (height - 4) // 2)))  # two rows apart at least: evenly drawn
        for ticks, set_ticks in ((xs, plt.xticks), (ys, plt.yticks)):
            if len(ticks) >= 2:
                step = ticks[1] - ticks[0]
                set_ticks(ticks, [tick_label(t, step) for t in ticks])
        self.refresh()
