"""Output paths checked before any work: a bad path fails in a second, not after a long solve.

:func:`check_command_paths` is called first thing by the commands that write files
(``train``, ``predict``, ``export``): every output (``--output``, ``--log-file``) must be
creatable (its folder exists and is writable, it is not a folder itself) and must not be one
of the command's inputs (the training data, the model, the data to predict), which it would
overwrite.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InvalidInputError

__all__ = ["check_command_paths", "check_output_path"]

_INPUTS = (("dataset", "the training data"), ("data", "the input data"), ("model", "the model file"))
_OUTPUTS = (("output", "--output"), ("log_file", "--log-file"))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def check_output_path(path, *, flag: str = "--output", inputs: dict | None = None) -> None:
    """Refuse an output ``path`` that cannot be written or would overwrite one of ``inputs``.

    Parameters
    ----------
    path : path-like
        Where the command will write.
    flag : str
        The option that gave it (for the message).
    inputs : dict, optional
        ``{description: path}`` of the files the command reads.

    Raises
    ------
    bnnmip.InvalidInputError
        Naming the path, the problem and the fix.
    """
    path = Path(path).expanduser()
    for what, source in (inputs or {}).items():
        source = None if source is None else Path(source).expanduser()
        if source is not None and source.exists() and _same_file(path, source):
            raise InvalidInputError(
                f"{flag} {path} is {what}; writing there would overwrite it. Give another file name"
            )
    if path.is_dir():
        raise InvalidInputError(f"{flag} {path} is a directory; give a file name inside it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInputError(
            f"{flag} {path}: the folder {parent} does not exist; create it first or give another path"
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise InvalidInputError(f"{flag} {path} exists and is not writable; give another file name")
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInputError(f"{flag} {path}: the folder {parent} is not writable; give another path")


def check_command_paths(args) -> None:
    """Check every output of a parsed command line (``args``) against its inputs, before any work."""
    inputs = {what: getattr(args, name) for name, what in _INPUTS if getattr(args, name, None) is not None}
    inputs = {what: p for what, p in inputs.items() if Path(str(p)).expanduser().is_file()}
    for name, flag in _OUTPUTS:
        value = getattr(args, name, None)
        if value is None:
            continue
        check_output_path(value, flag=flag, inputs=inputs)
