"""Data sets by name and from CSV files, and the train/test split."""

import attrs
import numpy as np
import pytest

from bnnmip.datasets import Dataset, list_datasets, load_dataset, split_dataset
from bnnmip.errors import InvalidInputError


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# -- named data sets --------------------------------------------------------------------------


def test_bundled_breast_cancer_wisconsin():
    ds = load_dataset("breast-cancer-wisconsin")
    assert isinstance(ds, Dataset)
    assert ds.X.shape == (699, 9)
    assert ds.X.dtype == float
    assert set(ds.y.tolist()) == {0, 1}
    assert np.bincount(ds.y).tolist() == [458, 241]
    assert ds.X.min() == 1 and ds.X.max() == 10 and np.all(ds.X == np.round(ds.X))
    assert len(ds.feature_names) == 9
    assert "Wolberg" in ds.provenance and "BDNN2021" in ds.provenance
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ds.name = "other"


def test_names_are_case_and_separator_insensitive():
    assert load_dataset("Breast_Cancer_Wisconsin").X.shape == (699, 9)


@pytest.mark.parametrize(
    ("name", "shape", "n_classes"),
    [("iris", (150, 4), 3), ("wine", (178, 13), 3), ("breast-cancer", (569, 30), 2),
     ("digits", (1797, 64), 10)],
)
def test_scikit_learn_data_sets(name, shape, n_classes):
    ds = load_dataset(name)
    assert ds.X.shape == shape
    assert len(np.unique(ds.y)) == n_classes
    assert len(ds.feature_names) == shape[1]
    assert ds.name == name


def test_list_datasets():
    names = list_datasets()
    assert set(names) == {"breast-cancer-wisconsin", "iris", "wine", "breast-cancer", "digits"}
    assert all(isinstance(d, str) and d and "\n" not in d for d in names.values())


def test_label_option_is_for_csv_only():
    with pytest.raises(InvalidInputError, match="CSV files only"):
        load_dataset("iris", label=0)


# -- CSV files ----------------------------------------------------------------------------------


def test_csv_with_header_and_string_labels(tmp_path):
    path = write(tmp_path, "length,width,species\n1.5,2,cat\n3,4.25,dog\n5,6,cat\n")
    ds = load_dataset(path)
    assert ds.X.tolist() == [[1.5, 2.0], [3.0, 4.25], [5.0, 6.0]]
    assert ds.y.tolist() == ["cat", "dog", "cat"]
    assert ds.feature_names == ("length", "width")
    assert ds.name == "data"
    assert "comma" in ds.provenance and "with header" in ds.provenance


def test_string_labels_without_header(tmp_path):
    ds = load_dataset(write(tmp_path, "1.5,2,cat\n3,4,dog\n"))
    assert ds.X.shape == (2, 2)
    assert ds.y.tolist() == ["cat", "dog"]
    assert ds.feature_names == ("x1", "x2")


def test_semicolon_without_header(tmp_path):
    ds = load_dataset(write(tmp_path, "1;2;0\n3;4;1\n5;6;1\n\n"))
    assert ds.X.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert ds.y.dtype.kind == "i" and ds.y.tolist() == [0, 1, 1]
    assert "semicolon" in ds.provenance and "no header" in ds.provenance


def test_tab_separated(tmp_path):
    ds = load_dataset(write(tmp_path, "a\tb\ty\n1\t2\tno\n3\t4\tyes\n", "data.tsv"))
    assert ds.X.tolist() == [[1, 2], [3, 4]]
    assert ds.y.tolist() == ["no", "yes"]


def test_label_by_name(tmp_path):
    path = write(tmp_path, "species,length,width\ncat,1,2\ndog,3,4\n")
    ds = load_dataset(path, label="species")
    assert ds.y.tolist() == ["cat", "dog"]
    assert ds.feature_names == ("length", "width")
    assert load_dataset(path, label="SPECIES").y.tolist() == ["cat", "dog"]


@pytest.mark.parametrize("label", [0, -3, "0"])
def test_label_by_index(tmp_path, label):
    ds = load_dataset(write(tmp_path, "1;10;20\n0;11;21\n"), label=label)
    assert ds.y.tolist() == [1, 0]
    assert ds.X.tolist() == [[10, 20], [11, 21]]


def test_numeric_header_names_with_label_column(tmp_path):
    ds = load_dataset(write(tmp_path, "0,1,label\n0.5,1,1\n0.25,0,0\n"))
    assert ds.feature_names == ("0", "1")
    assert ds.y.tolist() == [1, 0]


# -- CSV errors ---------------------------------------------------------------------------------


def test_missing_file_lists_bundled_names(tmp_path):
    with pytest.raises(InvalidInputError, match="not found") as info:
        load_dataset(tmp_path / "nope.csv")
    assert "breast-cancer-wisconsin" in str(info.value) and "iris" in str(info.value)


def test_non_numeric_feature_cell(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,0\n3,oops,1\n5,6,0\n")
    with pytest.raises(InvalidInputError, match=r"line 3.*'oops'.*column 'b' \(column 2\)"):
        load_dataset(path)


@pytest.mark.parametrize("missing", ["?", "", "NaN"])
def test_missing_values(tmp_path, missing):
    path = write(tmp_path, f"1;2;0\n3;4;1\n5;{missing};0\n")
    with pytest.raises(InvalidInputError, match=r"line 3: missing value.*column 2.*impute"):
        load_dataset(path)


def test_missing_label(tmp_path):
    with pytest.raises(InvalidInputError, match="missing label"):
        load_dataset(write(tmp_path, "1,2,0\n3,4,\n"))


def test_empty_file(tmp_path):
    with pytest.raises(InvalidInputError, match="empty"):
        load_dataset(write(tmp_path, "\n\n"))


def test_single_column(tmp_path):
    with pytest.raises(InvalidInputError, match="single column"):
        load_dataset(write(tmp_path, "1\n2\n3\n"))


def test_header_without_rows(tmp_path):
    with pytest.raises(InvalidInputError, match="no data rows"):
        load_dataset(write(tmp_path, "a,b,label\n"))


def test_ragged_row(tmp_path):
    with pytest.raises(InvalidInputError, match="line 2"):
        load_dataset(write(tmp_path, "1,2,0\n3,1\n5,6,0\n4,4,1\n"))


def test_label_name_needs_header(tmp_path):
    with pytest.raises(InvalidInputError, match="no header row"):
        load_dataset(write(tmp_path, "1,2,0\n3,4,1\n"), label="species")


def test_unknown_label_name(tmp_path):
    with pytest.raises(InvalidInputError, match="no column named 'kind'.*'a', 'b', 'y'"):
        load_dataset(write(tmp_path, "a,b,y\n1,2,0\n3,4,1\n"), label="kind")


def test_label_index_out_of_range(tmp_path):
    with pytest.raises(InvalidInputError, match="out of range"):
        load_dataset(write(tmp_path, "1,2,0\n3,4,1\n"), label=3)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(InvalidInputError, match="directory"):
        load_dataset(tmp_path)


# -- splitting ----------------------------------------------------------------------------------


def test_split_is_stratified_and_subsamples():
    ds = load_dataset("breast-cancer-wisconsin")
    X_tr, X_te, y_tr, y_te = split_dataset(ds.X, ds.y, test_size=0.25, seed=1)
    assert len(y_tr) + len(y_te) == 699 and len(y_te) == 175
    assert abs(y_te.mean() - ds.y.mean()) < 0.01  # class proportions kept
    X50, X_te2, y50, y_te2 = split_dataset(ds.X, ds.y, train_size=50, seed=1)
    assert X50.shape == (50, 9) and y50.shape == (50,)
    assert np.array_equal(X_te2, X_te)  # subsampling leaves the test part alone
    assert set(map(tuple, X50)) <= set(map(tuple, X_tr))


def test_split_is_reproducible():
    X, y = np.arange(40.0).reshape(20, 2), np.arange(20) % 2
    first = split_dataset(X, y, seed=3, train_size=6)
    second = split_dataset(X, y, seed=3, train_size=6)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_split_falls_back_when_a_class_is_tiny():
    X, y = np.arange(20.0).reshape(10, 2), np.array([0] * 9 + [1])
    X_tr, X_te, y_tr, y_te = split_dataset(X, y, test_size=0.3)
    assert len(y_tr) == 7 and len(y_te) == 3


def test_split_without_test_part():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    X_tr, X_te, y_tr, y_te = split_dataset(X, y, test_size=0)
    assert X_tr.shape == (10, 2) and X_te.shape == (0, 2) and y_te.shape == (0,)


@pytest.mark.parametrize(
    "kwargs", [{"test_size": 1.5}, {"test_size": 10}, {"train_size": 0}, {"train_size": 100}]
)
def test_split_rejects_bad_sizes(kwargs):
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    with pytest.raises(InvalidInputError):
        split_dataset(X, y, **kwargs)
