"""One colour per version on every panel (blue/orange: distinguishable with colour-blindness)."""

STABLE = "#4aa3ff"
CANARY = "#ff9f1c"
STABLE_RGB = (74, 163, 255)
CANARY_RGB = (255, 159, 28)
THRESHOLD_RGB = (220, 60, 60)
PASS = "#3fb950"
FAIL = "#ff5555"
NODATA = "#d29922"
WARN = "#d29922"
NOT_JUDGED = "#8b949e"  # grey: not a reading to act on

ROLE_COLOR = {"stable": STABLE, "canary": CANARY}
