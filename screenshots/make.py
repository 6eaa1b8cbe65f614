"""Regenerate the README's screenshots from the real app: `make screenshots`.

SVG straight from Textual; PNG from the SVG with rsvg-convert (Debian's librsvg2-bin),
rendered with DejaVu Sans Mono, whose box and block glyphs keep the terminal grid.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tui.app.showcase import showcase_app  # noqa: E402

SHOTS = {
    "healthy": dict(fault="none", canary=5, minutes=10),
    "error-fault": dict(fault="errors", canary=20, minutes=3),
    "latency-fault": dict(fault="latency", canary=20, minutes=4),
    "check-details": dict(fault="errors", canary=20, minutes=3, keys=("d",)),  # every check in full
}
SIZE = (140, 40)


async def shoot(name: str, params: dict) -> Path:
    params = dict(params)
    keys = params.pop("keys", ())
    app = showcase_app(**params)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        svg = HERE / f"{name}.svg"
        app.save_screenshot(svg.name, str(HERE))
    return svg


def to_png(svg: Path) -> Path | None:
    if not shutil.which("rsvg-convert"):
        print("rsvg-convert not found (apt-get install librsvg2-bin fonts-dejavu-core): PNG skipped")
        return None
    text = svg.read_text(encoding="utf-8").replace("Fira Code", "DejaVu Sans Mono")
    # librsvg drops the leading and trailing (no-break) spaces of each text run unless told to
    # keep them: right-aligned numbers moved left and "stable vs" printed as "stablevs".
    text = text.replace("<svg ", '<svg xml:space="preserve" ', 1)
    png = svg.with_suffix(".png")
    subprocess.run(["rsvg-convert", "-w", "1600", "-o", str(png), "/dev/stdin"], input=text.encode(), check=True)
    return png


def main() -> None:
    for name, params in SHOTS.items():
        svg = asyncio.run(shoot(name, params))
        png = to_png(svg)
        print(f"wrote {svg.relative_to(HERE.parent)}" + (f" and {png.relative_to(HERE.parent)}" if png else ""))


if __name__ == "__main__":
    main()
