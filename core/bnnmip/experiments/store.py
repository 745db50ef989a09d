"""The results store: one JSON object per line, appended and fsynced as each cell finishes.

A run appends a record the moment its cell finishes (``flush`` + ``os.fsync``), so a run killed
at any point, even by SIGKILL, loses only the cells in flight. The store tolerates a truncated
last line (a write cut short): readers skip it and the next writer cuts it off before
appending. Re-running a grid skips every cell whose key already has a record. A key may have
several records (``--retry-failed`` reruns crashed and hung cells); the last one counts.

Only one run may write a store at a time: the writer holds an exclusive ``flock`` on the file
(on systems that have ``fcntl``).

Before every append the writer checks that the path still names the file it opened (same
device and inode): a store deleted, moved or replaced during a run stops the run with a
:class:`bnnmip.errors.StoreError` instead of writing into a file nobody will read. Every
other I/O failure (a folder, a device, a read-only file, a full disk) is a ``StoreError`` or
:class:`bnnmip.InvalidInputError` naming the store and the fix; only regular files are read,
so a path such as ``/dev/zero`` cannot be read without end.
"""

from __future__ import annotations

import json
import math
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError, StoreError

__all__ = ["ResultStore", "to_json"]

try:  # POSIX only; elsewhere concurrent writers are not detected
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None


def _strict_json(value):
    """``value`` as strict-JSON data: numpy scalars and arrays unwrapped, non-finite floats None."""
    if isinstance(value, dict):
        return {str(k): _strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_strict_json(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def to_json(record: dict) -> str:
    """One store line (without the newline)."""
    return json.dumps(_strict_json(record), sort_keys=True, allow_nan=False)


class ResultStore:
    """A JSON-lines file of cell records.

    Parameters
    ----------
    path : str or Path
        The file; created (with its parent folder) on the first append.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None
        self._appended = 0

    def _check_regular(self, st: os.stat_result) -> None:
        if stat.S_ISDIR(st.st_mode):
            raise InvalidInputError(f"results store {self.path} is a directory; give a file path, "
                                    "e.g. runs.jsonl")
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInputError(f"results store {self.path} is not a regular file (a device or "
                                    "pipe); give a file path, e.g. runs.jsonl")

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r})"

    # -- reading ----------------------------------------------------------------------------------
    def records(self) -> list[dict]:
        """Every complete record, in file order.

        A last line without its newline (a write cut short) is ignored; an unparseable line
        elsewhere is skipped with a warning.
        """
        return list(self._iter_records())

    def _iter_records(self) -> Iterator[dict]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"cannot read results store {self.path}: {exc.strerror}") from None
        self._check_regular(st)
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot read results store {self.path}: {exc.strerror}; check its "
                             "permissions") from None
        lines = data.split(b"\n")
        bad = 0
        for raw in lines[:-1]:  # lines[-1]: bytes after the last newline, a truncated write
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                bad += 1
                continue
            if isinstance(rec, dict) and "key" in rec:
                yield rec
            else:
                bad += 1
        if bad:
            warnings.warn(f"{self.path}: skipped {bad} malformed line(s)", RuntimeWarning, stacklevel=3)

    def latest(self) -> dict[str, dict]:
        """The last record of every key, in order of first appearance."""
        out: dict[str, dict] = {}
        for rec in self.records():
            out[rec["key"]] = rec
        return out

    def keys(self) -> set[str]:
        """Keys with at least one record."""
        return set(self.latest())

    # -- writing ----------------------------------------------------------------------------------
    def open(self) -> ResultStore:
        """Open for appending: take the write lock and cut off a truncated last line."""
        if self._fd is not None:
            return self
        try:
            self._check_regular(os.stat(self.path))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot open results store {self.path}: {exc.strerror}") from None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise StoreError(
                f"cannot write results store {self.path}: {exc.strerror}; check the folder exists "
                "and is writable, or give another --store"
            ) from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise InvalidInputError(
                    f"results store {self.path} is being written by another run; wait for it to "
                    "finish or use another --store"
                ) from None
        self._fd = fd
        st = os.fstat(fd)
        self._identity = (st.st_dev, st.st_ino)
        self._appended = 0
        try:
            self._repair()
        except OSError as exc:
            self.close()
            raise StoreError(f"cannot repair results store {self.path}: {exc.strerror}") from None
        return self

    def _repair(self) -> None:
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with self.path.open("rb") as fh:
            # find the last newline, reading backwards in blocks
            end, block = size, 65536
            while end > 0:
                start = max(0, end - block)
                fh.seek(start)
                chunk = fh.read(end - start)
                if end == size and chunk.endswith(b"\n"):
                    return  # the file ends with a complete line
                pos = chunk.rfind(b"\n")
                if pos >= 0:
                    os.ftruncate(self._fd, start + pos + 1)
                    os.fsync(self._fd)
                    return
                end = start
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)

    def append(self, record: dict) -> None:
        """Append one record and force it to disk (``os.fsync``) before returning."""
        if self._fd is None:
            self.open()
        self._check_identity(record)
        data = (to_json(record) + "\n").encode()
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
        except OSError as exc:
            raise StoreError(
                f"could not write to results store {self.path} ({exc.strerror}): the record of cell "
                f"{record.get('key')} is lost; records written before are kept. Free space or fix "
                "the file, then run again: finished cells are skipped"
            ) from None
        self._appended += 1

    def _check_identity(self, record: dict) -> None:
        """Refuse to append when the path no longer names the file this writer opened."""
        try:
            st = os.stat(self.path)
            now = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            now = None
        if now != self._identity:
            what = "was deleted or moved" if now is None else "was replaced by another file"
            raise StoreError(
                f"results store {self.path} {what} while this run was writing it; stopping. The "
                f"{self._appended} record(s) this run appended went to the old file; the record of "
                f"cell {record.get('key')} was not written. Restore the store and run again (finished "
                "cells are skipped), or use another --store"
            )

    def close(self) -> None:
        """Release the write lock."""
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None
            self._identity = None

    def __enter__(self) -> ResultStore:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()
