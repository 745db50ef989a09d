"""bnnmip.testing.processes: finding a run's processes by a folder it names."""

import subprocess
import sys
from pathlib import Path

import pytest

from bnnmip.testing.processes import processes_mentioning, wait_for


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_finds_a_child_by_its_tmpdir_and_not_after_it_ends(tmp_path):
    env = {"TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], env=env)
    try:
        assert child.pid in processes_mentioning(str(tmp_path))
        assert child.pid not in processes_mentioning(str(tmp_path / "other"))
    finally:
        child.kill()
        child.wait()
    assert child.pid not in processes_mentioning(str(tmp_path))


def test_wait_for_returns_the_first_true_value_or_the_last():
    values = iter([0, [], "done", "later"])
    assert wait_for(lambda: next(values), 5, poll=0.01) == "done"
    assert wait_for(lambda: None, 0.05, poll=0.01) is None
