"""A SIGKILLed portfolio leaves no member, no solver subprocess and no member files behind."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import bnnmip
from bnnmip.testing.processes import processes_mentioning, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)"),
]

_RUN = '''
import sys
import bnnmip
from bnnmip.backends import SolveOptions
from bnnmip.testing import hard_instance

low = hard_instance()  # 300 random-label points: no member ends within the test
bnnmip.solve(bnnmip.get_backend("portfolio"), low.problem,
             SolveOptions(time_limit=600, solver_options={"members": "highs,cbc", "lead": sys.argv[1]}))
'''


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.parametrize(("lead", "processes"), [("process", 2), ("thread", 1)])
def test_sigkill_of_the_solving_process_takes_every_member_and_solver_with_it(tmp_path, lead, processes):
    """``lead=thread``: HiGHS solves in the killed process itself, CBC's member is a process."""
    if not bnnmip.get_backend("cbc").availability()[0]:
        pytest.skip("the cbc backend is not usable here")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    script = tmp_path / "run.py"
    script.write_text(_RUN)
    run = subprocess.Popen([sys.executable, str(script), lead], env={**os.environ, "TMPDIR": str(tmp)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def running():  # the member processes, and CBC's own solver process
            procs = [_cmdline(pid) for pid in processes_mentioning(str(tmp))]
            members = [c for c in procs if "bnnmip_portfolio.member" in c]
            solver = [c for c in procs if Path(c.split(" ")[0]).name.lower().startswith("cbc")]
            return len(members) == processes and solver

        assert wait_for(running, 240), (
            f"no {processes} member process(es) and CBC process: {processes_mentioning(str(tmp))}")
        assert any(p.name.startswith("bnnmip-portfolio-") for p in tmp.iterdir()), "no member folder"
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the solving process only: members lead groups of their own
        run.wait()
    assert wait_for(lambda: not processes_mentioning(str(tmp)), 60), (
        f"still alive after the parent's SIGKILL: {[_cmdline(p) for p in processes_mentioning(str(tmp))]}")
    assert wait_for(lambda: not [p for p in tmp.iterdir() if p.name.startswith("bnnmip-")], 30), (
        sorted(p.name for p in tmp.iterdir()))
