"""A SIGKILLed comparison run leaves no solver running and no temporary files behind."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bnnmip.testing.processes import processes_mentioning, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)"),
]


def _program(pid: int) -> str:
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""
    return Path(argv0).name.lower()


def _cell_files(folder: Path) -> list[str]:
    """bnnmip's files in ``folder`` (multiprocessing's own ``pymp-*`` folder is Python's, not ours)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("bnnmip-"))


def test_sigkill_of_compare_takes_the_cbc_child_and_the_cell_files_with_it(tmp_path):
    from bnnmip.plugins import get_backend

    if not get_backend("cbc").availability()[0]:
        pytest.skip("the cbc backend is not usable here")
    rng = np.random.default_rng(0)
    data = tmp_path / "random-labels.csv"  # no 3-2-2 network fits them: CBC searches until its limit
    rows = [",".join(f"{v:.4f}" for v in x) + f",{int(c)}"
            for x, c in zip(rng.uniform(0, 1, (400, 3)), rng.integers(0, 2, 400), strict=True)]
    data.write_text("a,b,c,label\n" + "\n".join(rows) + "\n")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    run = subprocess.Popen(
        [sys.executable, "-m", "bnnmip", "compare", "--datasets", str(data), "--backends", "cbc",
         "--seeds", "0", "--time-limits", "600", "--hidden", "2", "--store", str(tmp_path / "runs.jsonl"),
         "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        def cbc_running():  # the solver binary itself, not a command line that names the backend
            return [pid for pid in processes_mentioning(str(tmp)) if "cbc" in _program(pid)]

        solvers = wait_for(cbc_running, 240)
        assert solvers, "no CBC process of this run appeared"
        assert _cell_files(tmp), "the run keeps its cell files in TMPDIR"
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    left = wait_for(lambda: not processes_mentioning(str(tmp)), 60)
    assert left, f"processes of the killed run still alive: {processes_mentioning(str(tmp))}"
    assert wait_for(lambda: not _cell_files(tmp), 30), _cell_files(tmp)
