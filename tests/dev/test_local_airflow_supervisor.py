"""The local process supervisor stops every component and its children, even stubborn ones."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dev.local_airflow import ProcessGroup

# A component that ignores SIGINT (as a busy one may) and has a child of its own.
STUBBORN = (
    "import os, signal, subprocess, time\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "child = subprocess.Popen(['sleep', '600'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(600)\n"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def test_stop_ends_every_component_and_its_children(tmp_path: Path) -> None:
    group = ProcessGroup(tmp_path / "logs")
    polite = group.spawn("polite", [sys.executable, "-c", "import time; time.sleep(600)"])
    stubborn = group.spawn("stubborn", [sys.executable, "-u", "-c", STUBBORN])
    log = tmp_path / "logs" / "stubborn.log"
    while not log.read_text().strip():
        assert stubborn.poll() is None
    grandchild = int(log.read_text().split()[0])

    assert group.exited() == {}
    group.stop(timeout=1.0)

    assert not any(_alive(pid) for pid in (polite.pid, stubborn.pid, grandchild))
    assert set(group.exited()) == {"polite", "stubborn"}
