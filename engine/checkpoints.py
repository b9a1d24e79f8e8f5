"""WAL checkpoints for the embedded SQLite database, off the request path.

In WAL mode SQLite by default copies the log back into the database file ("checkpoints")
inside whichever commit happens to push the log past 1,000 pages. That commit then also pays
for writing and syncing up to a thousand pages: measured here, about 0.13 ms on every step on
average, and a long pause on the unlucky one. Kedja turns the automatic checkpoint off on its
connections and runs a passive checkpoint from a background thread instead, once a second;
passive checkpoints never block readers or writers. When the last connection closes, SQLite
checkpoints and removes the log itself, so a short-lived command leaves nothing behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0


class Checkpointer:
    def __init__(self, path: str, interval: float = INTERVAL_SECONDS) -> None:
        self._path = path
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kedja-wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            while not self._stop.wait(self._interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # busy or closing: the next round tries again
                    log.debug("WAL checkpoint skipped: %s", exc)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
