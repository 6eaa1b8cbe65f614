"""Who is acting: user@host, as written into change records and the audit log."""

from __future__ import annotations

import getpass
import socket
from functools import lru_cache


@lru_cache(maxsize=1)
def whoami() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
