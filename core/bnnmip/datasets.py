"""Data sets by name or from a CSV file, and the train/test split the CLI uses.

:func:`load_dataset` knows a few data sets by name (see :func:`list_datasets`):

- ``breast-cancer-wisconsin``: the file the paper's authors published (shipped with bnnmip,
  provenance in ``bnnmip/data/README.md``);
- ``iris``, ``wine``, ``breast-cancer`` (diagnostic) and ``digits``: the copies that ship
  inside scikit-learn (no network access).

Any other string is a path to a CSV file: delimiter (``,``, ``;`` or tab) and header row are
detected, the label column is the last one unless ``label=`` says otherwise, labels may be
integers or strings (a label column of non-integer numbers is refused: it is usually a
feature column taken for the label; pass ``label=``).

The first row is a header when a cell of it is not a number in a column whose cells below
are mostly numbers, or when its cells are the column numbers ``0, 1, ..., n-1`` or
``1, ..., n`` in order (as pandas writes unnamed columns); otherwise it is data.

Features must be numbers; bnnmip does not impute, so a missing value (an empty cell, ``NaN``,
``?``) is an error naming its column and line.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import attrs
import numpy as np

from .errors import InvalidInputError

__all__ = ["Dataset", "list_datasets", "load_dataset", "load_inputs", "split_dataset"]

MISSING_MARKERS = frozenset({"", "?", "nan", "na", "n/a"})
"""Cell contents (compared case-insensitively, after stripping blanks) read as missing."""

_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


@attrs.frozen(eq=False)
class Dataset:
    """A labelled data set: features ``X`` (m x n floats) and the original labels ``y``.

    ``y`` holds the labels as they appear in the source (integers or strings); the estimator
    encodes them. ``description`` is one line; ``provenance`` says where the data came from.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    name: str
    description: str = ""
    provenance: str = ""
    named_columns: bool = True
    """Whether ``feature_names`` come from the source (a header row, a bundled data set);
    ``False`` for a CSV without a header, whose names are made up (``x1``, ``x2``, ...)."""

    @property
    def known_feature_names(self) -> tuple[str, ...] | None:
        """``feature_names`` when the source names its columns, else ``None``."""
        return self.feature_names if self.named_columns else None

    @property
    def n_points(self) -> int:
        """Number of rows ``m``."""
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        """Number of features ``n``."""
        return self.X.shape[1]

    @property
    def classes(self) -> np.ndarray:
        """The distinct labels, sorted."""
        return np.unique(self.y)


# -- bundled and scikit-learn data sets -------------------------------------------------------

_BCW_FEATURES = (
    "clump_thickness",
    "uniformity_of_cell_size",
    "uniformity_of_cell_shape",
    "marginal_adhesion",
    "single_epithelial_cell_size",
    "bare_nuclei",
    "bland_chromatin",
    "normal_nucleoli",
    "mitoses",
)


def _load_bcw() -> Dataset:
    resource = resources.files("bnnmip") / "data" / "breast-cancer-wisconsin.csv"
    parsed = _parse_csv(resource.read_text(encoding="utf-8"), "breast-cancer-wisconsin.csv", None)
    return Dataset(
        X=parsed.X,
        y=parsed.y,
        feature_names=_BCW_FEATURES,
        name="breast-cancer-wisconsin",
        description=_DESCRIPTIONS["breast-cancer-wisconsin"],
        provenance=(
            "UCI Breast Cancer Wisconsin (Original), Wolberg 1992, CC BY 4.0; the file published "
            "by Kurtz & Bah (2021) in JannisKu/BDNN2021, Data/ (see bnnmip/data/README.md)"
        ),
    )


def _sklearn_loader(loader_name: str, name: str) -> Callable[[], Dataset]:
    def load() -> Dataset:
        from sklearn import datasets as skd  # lazy: start-up cost (scikit-learn)

        bunch = getattr(skd, loader_name)()
        return Dataset(
            X=_frozen(np.asarray(bunch.data, dtype=float)),
            y=_frozen(np.asarray(bunch.target)),
            feature_names=tuple(str(f) for f in getattr(bunch, "feature_names", ()))
            or tuple(f"x{j + 1}" for j in range(bunch.data.shape[1])),
            name=name,
            description=_DESCRIPTIONS[name],
            provenance=f"scikit-learn's bundled copy (sklearn.datasets.{loader_name})",
        )

    return load


_DESCRIPTIONS = {
    "breast-cancer-wisconsin": (
        "the paper's data: 699 tumours x 9 integer cytology features (1-10), "
        "0 benign / 1 malignant"
    ),
    "iris": "150 iris flowers x 4 measurements, 3 species (scikit-learn)",
    "wine": "178 wines x 13 chemical measurements, 3 cultivars (scikit-learn)",
    "breast-cancer": (
        "Breast Cancer Wisconsin (Diagnostic): 569 tumours x 30 features, "
        "0 malignant / 1 benign (scikit-learn)"
    ),
    "digits": "1797 handwritten digits as 8x8 images (64 features, 0-16), 10 classes (scikit-learn)",
}

_LOADERS: dict[str, Callable[[], Dataset]] = {
    "breast-cancer-wisconsin": _load_bcw,
    "iris": _sklearn_loader("load_iris", "iris"),
    "wine": _sklearn_loader("load_wine", "wine"),
    "breast-cancer": _sklearn_loader("load_breast_cancer", "breast-cancer"),
    "digits": _sklearn_loader("load_digits", "digits"),
}


def list_datasets() -> dict[str, str]:
    """The data sets known by name, each with a one-line description."""
    return {name: _DESCRIPTIONS[name] for name in _LOADERS}


def _as_name(text: str) -> str | None:
    key = text.strip().lower().replace("_", "-")
    return key if key in _LOADERS else None


def load_dataset(name_or_path: str | Path, *, label: int | str | None = None) -> Dataset:
    """Load a data set by name (see :func:`list_datasets`) or from a CSV file.

    Parameters
    ----------
    name_or_path : str or path-like
        A name from :func:`list_datasets` (case-insensitive, ``_`` and ``-`` alike) or the
        path of a CSV file. To read a file whose name equals a data set name, write it as a
        path (``./iris``).
    label : int or str, optional
        CSV files only: the label column, as a header name or an integer index (negative
        counts from the end). Default: the last column.

    Returns
    -------
    Dataset
        Features as floats and the labels as found in the source.

    Raises
    ------
    InvalidInputError
        The file is missing, empty or malformed (with the column and line of the bad cell).

    Examples
    --------
    >>> from bnnmip.datasets import load_dataset
    >>> ds = load_dataset("breast-cancer-wisconsin")
    >>> ds.X.shape, sorted(set(ds.y.tolist()))
    ((699, 9), [0, 1])
    """
    if isinstance(name_or_path, str) and (key := _as_name(name_or_path)) is not None:
        if label is not None:
            raise InvalidInputError(
                f"label= applies to CSV files only; data set {key!r} has its labels built in"
            )
        return _LOADERS[key]()
    path = Path(name_or_path).expanduser()
    path, text = _read_text(name_or_path)
    parsed = _parse_csv(text, str(path), label)
    header_note = "with header" if parsed.has_header else "no header"
    return Dataset(
        X=parsed.X,
        y=parsed.y,
        feature_names=parsed.feature_names,
        name=path.stem,
        description=(
            f"{parsed.X.shape[0]} rows x {parsed.X.shape[1]} features, "
            f"{len(np.unique(parsed.y))} classes, label column {parsed.label_name!r}"
        ),
        provenance=(
            f"CSV file {path} ({_DELIMITER_NAMES[parsed.delimiter]}-separated, {header_note})"
        ),
        named_columns=parsed.has_header,
    )


def load_inputs(
    name_or_path: str | Path,
    *,
    n_features: int,
    label: int | str | None = None,
    feature_names: tuple[str, ...] | None = None,
):
    """Inputs to predict on, with their labels when the source has them.

    A bundled data set gives ``(X, y)``. A CSV file with exactly ``n_features`` columns (and
    no ``label``) is read as unlabelled inputs, ``(X, None)``; otherwise its label column is
    ``label`` or the last one, as in :func:`load_dataset`.

    With ``feature_names`` (the training data's, saved with the network) and a source that
    names its columns (a CSV header, a bundled data set), the feature columns must carry
    exactly these names in this order: a missing, extra or reordered column is an error (it
    would otherwise be predicted silently wrong). Without a label argument, a CSV whose
    header has the feature names plus one other column takes that column as the label.
    A CSV without a header is checked by its column count only.

    Raises
    ------
    InvalidInputError
        The source is malformed, its feature count is not ``n_features`` or its column
        names differ from ``feature_names``.
    """
    if isinstance(name_or_path, str) and _as_name(name_or_path) is not None:
        ds = load_dataset(name_or_path, label=label)
        X, y = ds.X, ds.y
        if feature_names is not None and X.shape[1] == n_features:
            check_feature_names(str(name_or_path), ds.feature_names, feature_names)
    else:
        path, text = _read_text(name_or_path)
        rows = _read_rows(text, _detect_delimiter(text, str(path)), str(path))
        width = len(rows[0][1])
        header = rows[0][1] if _has_header(rows) else None
        if label is None and header is not None and feature_names is not None:
            others = [h for h in header if h not in feature_names]
            if len(others) == 1 and len(header) == n_features + 1:
                label = others[0]
        no_label = label is None and width == n_features
        if label is None and width not in (n_features, n_features + 1):
            raise InvalidInputError(
                f"{path} has {width} column(s) but the network expects {n_features} feature "
                f"column(s) (plus an optional label column); give the same columns as in training"
            )
        parsed = _parse_csv(text, str(path), _NO_LABEL if no_label else label)
        X, y = parsed.X, parsed.y
        if feature_names is not None and parsed.has_header and X.shape[1] == n_features:
            check_feature_names(str(path), parsed.feature_names, feature_names)
    if X.shape[1] != n_features:
        raise InvalidInputError(
            f"{name_or_path} has {X.shape[1]} feature column(s) but the network expects "
            f"{n_features}; give the same columns as in training (plus an optional label column)"
        )
    return X, y


def check_feature_names(source: str, got, expected) -> None:
    """Refuse feature columns whose names differ from the training data's."""
    got, expected = list(got), list(expected)
    if got == expected:
        return
    missing = [n for n in expected if n not in got]
    extra = [n for n in got if n not in expected]
    if not missing and not extra:
        raise InvalidInputError(
            f"{source} has the network's feature columns in a different order: expected "
            f"{', '.join(expected)}; got {', '.join(got)}. Reorder the columns as in training"
        )
    parts = []
    if missing:
        parts.append(f"missing {', '.join(map(repr, missing))}")
    if extra:
        parts.append(f"not in training {', '.join(map(repr, extra))}")
    raise InvalidInputError(
        f"{source}: its feature columns do not match the network's training features "
        f"({'; '.join(parts)}); the network expects {', '.join(expected)} (plus an optional "
        "label column, chosen with --label)"
    )


def _read_text(name_or_path) -> tuple[Path, str]:
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        what = "is a directory, not a CSV file" if path.is_dir() else "was not found"
        raise InvalidInputError(
            f"{str(name_or_path)!r} {what}; give the path of a CSV file or one of the "
            f"bundled data sets: {', '.join(_LOADERS)}"
        )
    try:
        return path, path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{path} is not a UTF-8 text file ({exc.reason} at byte {exc.start}); "
            "save it as UTF-8 CSV"
        ) from None


# -- CSV parsing ------------------------------------------------------------------------------

_NO_LABEL = object()  # sentinel: the CSV has no label column


@attrs.frozen(eq=False)
class _Parsed:
    X: np.ndarray
    y: np.ndarray | None
    feature_names: tuple[str, ...]
    label_name: str | None
    delimiter: str
    has_header: bool


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_MARKERS


def _number(cell: str) -> float | None:
    """The cell as a float, or None if it is not a number."""
    try:
        return float(cell)
    except ValueError:
        return None


def _read_rows(text: str, delimiter: str, source: str = "CSV file") -> list[tuple[int, list[str]]]:
    """Non-blank rows with their line numbers (1-based, as a text editor shows them)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows, start = [], 1
    try:
        for row in reader:
            if len(row) > 1 or (row and row[0].strip()):  # skip blank lines
                rows.append((start, [cell.strip() for cell in row]))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInputError(
            f"{source} cannot be parsed as CSV near line {reader.line_num}: {exc}; check its quoting "
            "(a cell longer than 128 KB, an unclosed quote)"
        ) from None
    return rows


def _detect_delimiter(text: str, source: str) -> str:
    """The delimiter among ``, ; tab`` that splits the first lines most consistently."""
    sample_lines = [line for line in text.splitlines() if line.strip()][:50]
    if not sample_lines:
        raise InvalidInputError(
            f"{source} is empty; a CSV file needs one row per point: features then a label"
        )
    sample = "\n".join(sample_lines)
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    best, best_score = None, None
    for delim in _DELIMITERS:
        rows = [row for _, row in _read_rows(sample, delim, source)]
        widths = [len(row) for row in rows]
        if not widths:  # e.g. an unclosed quote swallowed every line
            continue
        modal = max(set(widths), key=widths.count)
        if modal < 2:
            continue
        cells = [cell for row in rows[1:] or rows for cell in row]
        numeric = sum(_number(cell) is not None for cell in cells) / len(cells)
        # rows of equal width first, then numeric cells, then the sniffer's choice
        score = (widths.count(modal) / len(widths), numeric, delim == sniffed, modal)
        if best_score is None or score > best_score:
            best, best_score = delim, score
    if best is None:
        raise InvalidInputError(
            f"{source} has a single column; it needs at least one feature column and a "
            "label column, separated by ',', ';' or tab"
        )
    return best


def _has_header(rows: list[tuple[int, list[str]]]) -> bool:
    """A first row with a non-numeric cell in a column that is numeric below it is a header.

    So is a first row of column numbers ``0..n-1`` or ``1..n`` in order (pandas' names for
    unnamed columns): read as data it would add a point and, usually, a class.
    """
    first = rows[0][1]
    rest = [row for _, row in rows[1:]]
    numbers = [_number(cell) for cell in first]
    if rest and len(first) >= 2 and all(v is not None for v in numbers):
        if numbers in ([float(j) for j in range(len(first))], [float(j + 1) for j in range(len(first))]):
            return True
    if not rest:
        return all(_number(cell) is None and not _is_missing(cell) for cell in first)
    for j, cell in enumerate(first):
        if _number(cell) is not None or _is_missing(cell):
            continue
        below = [row[j] for row in rest if j < len(row) and not _is_missing(row[j])]
        if below and sum(_number(c) is not None for c in below) * 2 >= len(below):
            return True
    return False


def _label_index(label, header: list[str] | None, n_cols: int, source: str) -> int:
    if label is None:
        return n_cols - 1
    if isinstance(label, bool):
        raise InvalidInputError(f"label must be a column name or an integer index, got {label!r}")
    if isinstance(label, str):
        name = label.strip()
        if header is not None:
            if name in header:
                return header.index(name)
            lowered = [h.lower() for h in header]
            if name.lower() in lowered:
                return lowered.index(name.lower())
        try:
            label = int(name)
        except ValueError:
            if header is None:
                raise InvalidInputError(
                    f"label={name!r} names a column but {source} has no header row; "
                    f"pass an integer column index (0..{n_cols - 1}, or negative from the end)"
                ) from None
            raise InvalidInputError(
                f"{source} has no column named {name!r}; its columns are "
                f"{', '.join(repr(h) for h in header)}"
            ) from None
    if not isinstance(label, int | np.integer):
        raise InvalidInputError(f"label must be a column name or an integer index, got {label!r}")
    if not -n_cols <= label < n_cols:
        raise InvalidInputError(
            f"label column index {label} is out of range for {source}, which has {n_cols} "
            f"columns (use 0..{n_cols - 1} or -{n_cols}..-1)"
        )
    return int(label) % n_cols


def _parse_csv(text: str, source: str, label) -> _Parsed:
    delimiter = _detect_delimiter(text, source)
    rows = _read_rows(text, delimiter, source)
    has_header = _has_header(rows)
    header = rows[0][1] if has_header else None
    data = rows[1:] if has_header else rows
    n_cols = len(rows[0][1])
    if not data:
        raise InvalidInputError(f"{source} has a header row but no data rows")
    names = [(header[j] if header else "") or f"x{j + 1}" for j in range(n_cols)]
    target = None if label is _NO_LABEL else _label_index(label, header, n_cols, source)
    feature_cols = [j for j in range(n_cols) if j != target]

    def column(j: int) -> str:
        return f"column {names[j]!r} (column {j + 1})" if header else f"column {j + 1}"

    X = np.empty((len(data), len(feature_cols)))
    labels: list[str] = []
    n_missing = sum(_is_missing(cell) for _, row in data for cell in row)
    for i, (line, row) in enumerate(data):
        if len(row) != n_cols:
            raise InvalidInputError(
                f"{source}, line {line}: {len(row)} cells where the first row has {n_cols}; "
                "every row needs the same columns"
            )
        for k, j in enumerate(feature_cols):
            cell = row[j]
            if _is_missing(cell):
                raise InvalidInputError(
                    f"{source}, line {line}: missing value ({cell!r}) in feature {column(j)}; "
                    f"bnnmip does not impute ({n_missing} missing cell(s) in the file): fill "
                    "the missing values or drop those rows first"
                )
            value = _number(cell)
            if value is None:
                hint = (
                    "write decimals with '.', not ','"
                    if _number(cell.replace(",", ".")) is not None
                    else "features must be numbers: encode or drop that column, or pass "
                    "label= if it is the label column"
                )
                raise InvalidInputError(
                    f"{source}, line {line}: non-numeric value {cell!r} in feature {column(j)}; "
                    f"{hint}"
                )
            if not math.isfinite(value):
                raise InvalidInputError(
                    f"{source}, line {line}: infinite value {cell!r} in feature {column(j)}; "
                    "replace it by a finite number or drop the row"
                )
            X[i, k] = value
        if target is None:
            continue
        if _is_missing(row[target]):
            raise InvalidInputError(
                f"{source}, line {line}: missing label ({row[target]!r}) in {column(target)}; "
                "drop unlabelled rows first"
            )
        labels.append(row[target])
    if target is not None:
        _check_labels(labels, data, source, column(target))
    return _Parsed(
        X=_frozen(X),
        y=None if target is None else _frozen(_labels_array(labels)),
        feature_names=tuple(names[j] for j in feature_cols),
        label_name=None if target is None else names[target],
        delimiter=delimiter,
        has_header=has_header,
    )


def _check_labels(labels: list[str], data, source: str, where: str) -> None:
    """Refuse a label column of numbers that are not all integers (regression targets)."""
    numbers = [_number(c) for c in labels]
    if not all(v is not None and math.isfinite(v) for v in numbers):
        return  # string labels (a non-finite number among them is a string too)
    for (line, _), value, cell in zip(data, numbers, labels, strict=True):
        if not float(value).is_integer():
            raise InvalidInputError(
                f"{source}, line {line}: label {cell!r} in {where} is not an integer; bnnmip "
                "classifies, so labels must be integers or names. If this column is a feature, "
                "pass the label column with --label (label=); if it is a class code, write it as "
                "an integer or a name"
            )


def _labels_array(labels: list[str]) -> np.ndarray:
    """Integers if every label is an integer, floats if every one is a number, else strings."""
    numbers = [_number(c) for c in labels]
    if all(v is not None and math.isfinite(v) for v in numbers):
        if all(float(v).is_integer() for v in numbers):
            return np.array([int(v) for v in numbers], dtype=np.int64)
        return np.array(numbers, dtype=float)
    return np.array(labels, dtype=str)


# -- splitting --------------------------------------------------------------------------------


def split_dataset(
    X,
    y,
    *,
    test_size: float | int = 0.25,
    train_size: float | int | None = None,
    seed: int = 0,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split into train and test parts, then optionally subsample the training part.

    Parameters
    ----------
    X, y : array-like
        Features (m x n) and labels (m,).
    test_size : float or int, default 0.25
        A fraction in [0, 1) of the points, or a number of points, held out for testing;
        ``0`` keeps every point for training (the test part is then empty).
    train_size : float or int, optional
        Subsample the training part to this many points (int, e.g. 50 as in the paper) or
        this fraction of it (float in (0, 1]). Default: the whole training part.
    seed : int, default 0
        Random seed of both draws.
    stratify : bool, default True
        Keep class proportions in both draws; falls back to an unstratified draw (no error)
        when a class is too small to be split.

    Returns
    -------
    X_train, X_test, y_train, y_test : numpy.ndarray
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise InvalidInputError(
            f"X must be 2-dimensional with one row per label; got X {X.shape}, y {y.shape}"
        )
    m = X.shape[0]
    test_size = _check_size("test_size", test_size, m, allow_zero=True)
    if test_size == 0:
        X_train, X_test, y_train, y_test = X, X[:0], y, y[:0]
    else:
        X_train, X_test, y_train, y_test = _split(X, y, test_size, seed, stratify)
    if train_size is not None:
        n_train = X_train.shape[0]
        train_size = _check_size("train_size", train_size, n_train, allow_zero=False)
        whole = train_size == n_train if isinstance(train_size, int) else train_size == 1.0
        if not whole:
            X_train, _, y_train, _ = _split(X_train, y_train, None, seed, stratify, train_size)
    return X_train, X_test, y_train, y_test


def _check_size(name: str, value, available: int, *, allow_zero: bool):
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidInputError(f"{name} must be a fraction or a number of points, got {value!r}")
    if isinstance(value, int | np.integer):
        value = int(value)
        low = 0 if allow_zero else 1
        high = available - 1 if name == "test_size" else available
        if not low <= value <= high:
            raise InvalidInputError(
                f"{name}={value} points is out of range: there are {available} points "
                f"(allowed {low}..{high})"
            )
        return value
    value = float(value)
    if value == 0 and allow_zero:
        return 0
    upper_ok = value < 1 if name == "test_size" else value <= 1
    if not (value > 0 and upper_ok):
        bound = "[0, 1)" if name == "test_size" else "(0, 1]"
        raise InvalidInputError(f"{name} as a fraction must lie in {bound}, got {value}")
    return value


def _split(X, y, test_size, seed, stratify, train_size=None):
    from sklearn.model_selection import train_test_split  # lazy: start-up cost (scikit-learn)

    kwargs = {"test_size": test_size, "train_size": train_size, "random_state": seed}
    if stratify:
        try:
            return train_test_split(X, y, stratify=y, **kwargs)
        except ValueError:
            pass  # a class too small to stratify: fall back to a plain random split
    try:
        return train_test_split(X, y, **kwargs)
    except ValueError as exc:
        raise InvalidInputError(f"cannot split {X.shape[0]} points: {exc}") from None
