"""The one validation path for saved-network files: size cap, decoding, and a schema check.

:func:`read_network_file` reads a file written by :meth:`bnnmip.BinarizedNetwork.save` and
:func:`check_network_dict` checks its JSON object against the format of
``docs/network-format.md`` before any array is built. Every problem, from a missing file to a
weight outside the declared weight domain, is a :class:`bnnmip.ModelFormatError` whose
message names the file, the offending key (``layers[1].weights[0][2]``) and what to do.

The checks, in order:

- the path is an existing regular file no larger than :data:`MAX_FILE_BYTES` (checked before
  reading; at most that many bytes are ever read, so ``/dev/zero`` or a pipe cannot exhaust
  memory);
- the bytes are UTF-8 and valid JSON, nested at most :data:`MAX_DEPTH` levels deep;
- the top level is an object with exactly the known keys (a misspelt key such as
  ``input_scalling`` would otherwise be ignored and predictions silently change);
- ``format``, ``version`` (1 or 2; ``feature_names`` needs 2), ``widths``, ``weight_domain``,
  ``prediction_rule``, ``classes`` (scalars of one kind, no duplicates, one per output),
  ``input_scaling`` (one finite minimum and one finite positive span per input, no
  broadcasting), ``layers`` (numbers only, no strings or booleans, exact shapes; with an
  ``integer:P`` domain every weight an integer in [-P, P]; continuous weights need only be
  finite, since a step activation does not depend on a neuron's scale), ``metadata`` (an
  object), ``feature_names`` (unique non-empty
  strings, one per input).
"""

from __future__ import annotations

import json
import math
import os
import stat

import numpy as np

from .errors import InvalidInputError, ModelFormatError
from .ir import WeightDomain

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "check_network_dict", "read_network_file"]

FORMAT_NAME = "bnnmip-network"
SUPPORTED_VERSIONS = (1, 2)
"""Version 1: the original format. Version 2 adds ``feature_names``; bnnmip writes 2 only when a
network has feature names, so files without them stay readable by older bnnmip."""

MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest network file :func:`read_network_file` accepts (64 MiB: about 3 million weights,
far beyond what a MILP trains). Larger files are refused before they are read."""

MAX_DEPTH = 64
"""Deepest JSON nesting accepted (a network file needs 4 levels; metadata gets the rest)."""

WEIGHT_TOLERANCE = 1e-6
"""Slack allowed when checking weights against their domain (solvers' feasibility tolerance)."""

_KEYS = {"format", "version", "widths", "weight_domain", "prediction_rule", "classes",
         "input_scaling", "layers", "metadata", "feature_names"}
_REQUIRED = ("format", "version", "layers", "weight_domain")


def _fail(source: str, message: str) -> ModelFormatError:
    return ModelFormatError(f"{source}: {message}")


def _bad(source: str, message: str) -> ModelFormatError:
    return ModelFormatError(f"{source}: malformed network file: {message}")


def read_network_file(path, *, max_bytes: int = MAX_FILE_BYTES) -> dict:
    """The checked JSON object of the network file at ``path``.

    Raises
    ------
    bnnmip.ModelFormatError
        The file is missing, not a regular file, larger than ``max_bytes``, not UTF-8, not
        JSON, nested too deeply, or not a valid network (see :func:`check_network_dict`).
    """
    source = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _fail(source, "no such file; give the path of a network written by 'bnnmip train "
                            "--output'") from None
    except OSError as exc:
        raise _fail(source, f"cannot be read ({exc.strerror}); check the path and its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(source, "is a directory, not a network file; give the path of the .json file")
    if st.st_size > max_bytes:
        raise _fail(source, f"is {st.st_size:,} bytes, above the {max_bytes:,}-byte limit for network "
                            "files; this is not a bnnmip network (or pass a larger max_bytes)")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise _fail(source, f"cannot be read ({exc.strerror}); check the path and its permissions") from None
    if len(raw) > max_bytes:
        raise _fail(source, f"holds more than {max_bytes:,} bytes, the limit for network files; "
                            "this is not a bnnmip network")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(source, f"is not a UTF-8 text file ({exc.reason} at byte {exc.start}); a network "
                            "file is JSON text written by 'bnnmip train --output'") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(source, f"is not valid JSON: {exc}") from None
    except RecursionError:
        raise _fail(source, "nests JSON too deeply to be a network file") from None
    check_network_dict(data, source=source)
    return data


def _depth(value, limit: int) -> int:
    """Nesting depth of ``value`` (stops counting past ``limit``)."""
    stack, deepest = [(value, 1)], 0
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return deepest


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers(source: str, where: str, value, length: int | None, what: str) -> list[float]:
    """A list of finite numbers (exactly ``length`` of them when given)."""
    if not isinstance(value, list):
        raise _bad(source, f"{where} must be a list of numbers ({what}), got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise _bad(source, f"{where} has {len(value)} entries but must have {length} ({what})")
    if set(map(type, value)) <= {int, float}:  # the usual file: one array check, no loop
        try:
            if np.isfinite(np.asarray(value, dtype=float)).all():
                return value
        except OverflowError:  # an integer beyond float range: the loop below names it
            pass
    for k, v in enumerate(value):
        if not _is_number(v):
            raise _bad(source, f"{where}[{k}] must be a number, got {v!r}")
        try:
            finite = math.isfinite(v)
        except OverflowError:  # an integer beyond float range
            finite = False
        if not finite:
            raise _bad(source, f"{where}[{k}] is {v!r}; every number must be finite")
    return value


def _check_classes(source: str, classes, n_classes: int) -> None:
    if not isinstance(classes, list):
        raise _bad(source, f"classes must be a list of labels, got {type(classes).__name__}")
    if not classes:
        return
    if len(classes) != n_classes:
        raise _bad(source, f"classes has {len(classes)} labels for {n_classes} output neurons")
    kinds = set()
    for k, c in enumerate(classes):
        if isinstance(c, bool):
            kinds.add("bool")
        elif _is_number(c):
            if isinstance(c, float) and not math.isfinite(c):  # ints: any size, as JSON allows
                raise _bad(source, f"classes[{k}] is {c!r}; class labels must be finite")
            kinds.add("number")
        elif isinstance(c, str):
            kinds.add("string")
        else:
            raise _bad(source, f"classes[{k}] must be a string or a number, got {c!r}")
    if len(kinds) > 1:
        raise _bad(source, f"classes mixes {' and '.join(sorted(kinds))} labels; all labels must be "
                            "of one kind")
    seen = {}
    for k, c in enumerate(classes):
        key = str(c) if isinstance(c, str) else (c if not isinstance(c, float) or not c.is_integer()
                                                 else int(c))
        if key in seen:
            raise _bad(source, f"classes[{k}] = {c!r} repeats classes[{seen[key]}]; each output "
                                "neuron needs its own label")
        seen[key] = k


def _check_layers(source: str, layers, domain, widths) -> list[int]:
    if not isinstance(layers, list) or not layers:
        raise _bad(source, "layers must be a non-empty list of {'weights': ..., 'bias': ...} objects")
    bound = domain.bound
    integer = domain.is_integer  # continuous weights: any finite scale (step is scale invariant)
    sizes = []
    for l, layer in enumerate(layers):
        where = f"layers[{l}]"
        if not isinstance(layer, dict):
            raise _bad(source, f"{where} must be an object with 'weights' and 'bias'")
        extra = set(layer) - {"weights", "bias"}
        if extra or "weights" not in layer or "bias" not in layer:
            raise _bad(source, f"{where} must have exactly the keys 'weights' and 'bias' (found "
                                f"{', '.join(sorted(map(str, layer))) or 'none'})")
        W = layer["weights"]
        if not isinstance(W, list) or not W:
            raise _bad(source, f"{where}.weights must be a non-empty list of rows")
        n_in = None if not sizes else sizes[-1]
        for i, row in enumerate(W):
            if not isinstance(row, list):
                raise _bad(source, f"{where}.weights[{i}] must be a list of numbers")
            if n_in is None:
                n_in = len(row)
                if n_in == 0:
                    raise _bad(source, f"{where}.weights[{i}] is empty; a layer needs >= 1 input")
            _numbers(source, f"{where}.weights[{i}]", row, n_in,
                     "one weight per input of the layer")
            for j, w in enumerate(row):
                if integer and (abs(w) > bound + WEIGHT_TOLERANCE or abs(w - round(w)) > WEIGHT_TOLERANCE):
                    raise _bad(source, f"{where}.weights[{i}][{j}] = {w!r} lies outside the declared "
                                        f"weight_domain {domain}; the file was edited or is corrupt")
        _numbers(source, f"{where}.bias", layer["bias"], len(W), "one bias per neuron")
        if not sizes:
            sizes.append(n_in)
        sizes.append(len(W))
    if widths is not None and widths != sizes:
        raise _bad(source, f"widths {widths} do not match the layers, which give {sizes}")
    return sizes


def check_network_dict(data, *, source: str = "network file") -> None:
    """Check a decoded network file against the format; raise :class:`ModelFormatError` if bad."""
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise _fail(source, f"not a bnnmip network file (missing format {FORMAT_NAME!r})")
    if _depth(data, MAX_DEPTH) > MAX_DEPTH:
        raise _bad(source, f"nests JSON more than {MAX_DEPTH} levels deep; not a network file")
    version = data.get("version")
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise _fail(source, f"network file version {version!r} is not supported by this bnnmip "
                            f"(reads versions {', '.join(map(str, SUPPORTED_VERSIONS))}); upgrade bnnmip")
    unknown = set(data) - _KEYS
    if unknown:
        raise _bad(source, f"unknown key(s) {', '.join(sorted(unknown))}; "
                            f"a version-{version} file has only {', '.join(sorted(_KEYS))}")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise _bad(source, f"missing key(s) {', '.join(missing)}")
    if not isinstance(data["weight_domain"], str):
        raise _bad(source, f"weight_domain must be a string, got {data['weight_domain']!r}")
    try:
        domain = WeightDomain.parse(data["weight_domain"])
    except InvalidInputError as exc:
        raise _bad(source, f"{exc}") from None
    rule = data.get("prediction_rule", "preactivation")
    if rule not in ("preactivation", "binary"):
        raise _bad(source, f"prediction_rule must be 'preactivation' or 'binary', got {rule!r}")
    widths = data.get("widths")
    if widths is not None and (
        not isinstance(widths, list) or not all(isinstance(w, int) and not isinstance(w, bool)
                                                for w in widths)
    ):
        raise _bad(source, f"widths must be a list of integers, got {widths!r}")
    sizes = _check_layers(source, data["layers"], domain, widths)
    n_inputs, n_classes = sizes[0], sizes[-1]
    _check_classes(source, data.get("classes", []), n_classes)
    scaling = data.get("input_scaling")
    if scaling is not None:
        if not isinstance(scaling, dict) or set(scaling) != {"minimum", "span"}:
            raise _bad(source, "input_scaling must be null or an object with exactly 'minimum' and "
                                "'span'")
        _numbers(source, "input_scaling.minimum", scaling["minimum"], n_inputs, "one per input")
        span = _numbers(source, "input_scaling.span", scaling["span"], n_inputs, "one per input")
        for k, s in enumerate(span):
            if s <= 0:
                raise _bad(source, f"input_scaling.span[{k}] = {s!r}; every span must be positive "
                                    "(a constant feature has span 1)")
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise _bad(source, f"metadata must be an object, got {type(metadata).__name__}")
    names = data.get("feature_names")
    if names is not None:
        if version < 2:
            raise _bad(source, "feature_names needs network file version 2; set \"version\": 2")
        if not isinstance(names, list) or len(names) != n_inputs or not all(
            isinstance(n, str) and n.strip() for n in names
        ):
            raise _bad(source, f"feature_names must be null or a list of {n_inputs} non-empty strings")
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise _bad(source, f"feature_names repeats {', '.join(map(repr, dup))}; names must be unique")

