"""The worker process of one cell, started either way :mod:`bnnmip.experiments.run` knows.

- :func:`fork_main`: the target of a ``multiprocessing`` process from a *forkserver* that has
  already imported bnnmip, scikit-learn and the solvers (starting a cell costs a fork, not
  seconds of imports). Events go back through a ``multiprocessing`` pipe.
- ``python -m bnnmip.experiments.run.child``: a plain subprocess, for where ``multiprocessing``
  may not start children (inside Dask's daemonic worker processes) or has no forkserver.
  Standard input: first line ``{"key", "config", "sys_path"}``; the worker's original standard
  output carries the events, one JSON object per line.

Either way: events are ``{"event": "started" | "phase" | "iteration" | "result", ...}``; the
last one carries the record. The worker leads its own process group (so the watchdog can kill
a solver subprocess with it), sends everything it prints (solver chatter) to a file the
parent reads on a crash, runs with one thread in every thread pool, and keeps its temporary
files in a folder of its own. When its parent disappears (a SIGKILLed run), it kills every other
process of its group (a solver subprocess such as CBC's), removes its temporary folder and the
cell's log file, and exits: a killed run leaves no solving orphans and no files behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import threading

from ..cell import run_cell
from ..store import to_json


def _own_group() -> None:
    if os.name == "posix":
        try:
            os.setpgid(0, 0)
        except OSError:
            pass


def _one_thread() -> None:
    try:
        from threadpoolctl import threadpool_limits  # lazy: optional dependency (comes with scikit-learn)

        threadpool_limits(1)
    except Exception:  # noqa: BLE001 - best effort; the environment variables say 1 too
        pass


def _own_temp_folder() -> str:
    """A temporary folder for this cell alone (every ``tempfile`` user in the worker lands there)."""
    folder = tempfile.mkdtemp(prefix=f"bnnmip-cell-{os.getpid()}-")
    tempfile.tempdir = folder
    os.environ["TMPDIR"] = folder  # solver subprocesses too
    return folder


def _group_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` (from ``/proc``; empty where there is none)."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) "
        if len(fields) > 2 and fields[2] == str(pgid):
            members.append(int(entry))
    return members


def _die_with_parent(folder: str, errpath: str | None) -> None:
    """The parent is gone: kill the rest of this process group, remove this cell's files, exit."""
    me = os.getpid()
    try:
        group = os.getpgid(0)
    except OSError:
        group = None
    if group == me:  # only a group leader owns its group
        for pid in _group_members(group):
            if pid != me:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
    shutil.rmtree(folder, ignore_errors=True)
    if errpath:
        try:
            os.unlink(errpath)
        except OSError:
            pass
    os._exit(70)


def _finish(folder: str) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    shutil.rmtree(folder, ignore_errors=True)
    os._exit(0)


def _redirect_output(path: str | None) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    if path is None:
        os.dup2(2, 1)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _run(key: str, config: dict, send) -> None:
    lock = threading.Lock()

    def emit(event: dict) -> None:
        with lock:
            send(to_json(event))


    emit({"event": "started", "pid": os.getpid()})
    record = run_cell(key, config, emit)
    emit({"event": "result", "record": record})


def fork_main(key: str, config: dict, conn, errpath: str) -> None:
    """Run one cell in a forkserver child; events through ``conn``."""
    import multiprocessing  # lazy: start-up cost (only the forkserver launcher needs it)

    _own_group()
    _redirect_output(errpath)
    folder = _own_temp_folder()
    parent = multiprocessing.parent_process()

    def exit_when_parent_goes() -> None:
        if parent is not None:
            parent.join()
            _die_with_parent(folder, errpath)

    threading.Thread(target=exit_when_parent_goes, daemon=True).start()
    _one_thread()
    _run(key, config, lambda text: conn.send_bytes(text.encode()))
    conn.close()
    _finish(folder)


def _exit_when_stdin_closes(folder: str, errpath: str | None) -> None:
    try:
        while sys.stdin.buffer.read(65536):
            pass
    except Exception:  # noqa: BLE001 - any failure to read means the parent is unreachable
        pass
    _die_with_parent(folder, errpath)


def main() -> None:
    """Subprocess entry point: read the cell from stdin, write events to stdout."""
    _own_group()
    events = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    message = json.loads(sys.stdin.buffer.readline())
    _redirect_output(message.get("errpath"))
    folder = _own_temp_folder()
    for entry in reversed(message.get("sys_path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    watcher = threading.Thread(target=_exit_when_stdin_closes, args=(folder, message.get("errpath")),
                               daemon=True)
    watcher.start()
    _one_thread()

    def send(text: str) -> None:
        events.write(text + "\n")
        events.flush()

    _run(message["key"], message["config"], send)
    events.close()
    _finish(folder)


if __name__ == "__main__":
    main()
