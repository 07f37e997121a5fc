"""The workbench's audit log: one JSON line per action in ``DATA_DIR/audit.jsonl``.

Each line: time (UTC), user (or ``-`` before login), client address, action, target (a
dataset, run or job id, a file name) and outcome. It never holds patient data: no values,
no rows, no note text — names and ids only. Lines are appended under a lock with
``O_APPEND``, so concurrent requests never interleave within a line.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def __call__(
        self,
        user: str | None,
        client: str | None,
        action: str,
        target: str = "",
        outcome: str = "ok",
    ) -> None:
        line = json.dumps(
            {
                "time": datetime.now(UTC).isoformat(timespec="seconds"),
                "user": user or "-",
                "client": client or "-",
                "action": action,
                "target": target,
                "outcome": outcome,
            }
        )
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
