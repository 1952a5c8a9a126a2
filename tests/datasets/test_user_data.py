"""load(path): .npy, .npz, .csv and folders of images, with clear errors on bad files."""

import numpy as np
import pytest
from PIL import Image

from aekit.datasets import load


def test_npy_2d_and_images(tmp_path):
    A = np.arange(12, dtype=np.int32).reshape(3, 4)
    np.save(tmp_path / "a.npy", A)
    ds = load(tmp_path / "a.npy")
    assert ds.name == "a" and ds.X.dtype == np.float32 and ds.y is None
    np.testing.assert_array_equal(ds.X, A)
    imgs = np.random.default_rng(0).random((5, 6, 7))
    np.save(tmp_path / "imgs.npy", imgs)
    ds = load(str(tmp_path / "imgs.npy"))
    assert ds.X.shape == (5, 42) and ds.image_shape == (6, 7)
    np.testing.assert_allclose(ds.X[2].reshape(6, 7), imgs[2], rtol=1e-6)


@pytest.mark.parametrize(
    "array, match",
    [
        (np.arange(4.0), r"1-D with shape \(4,\); aekit needs \(n_samples, n_features\)"),
        (np.zeros((0, 3)), "zero samples"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), r"NaN or infinity \(first at index \[0, 1\]"),
        (np.array([[1.0, np.inf]]), "NaN or infinity"),
        (np.array([["a", "b"]]), "not numbers"),
    ],
)
def test_npy_bad_arrays(tmp_path, array, match):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(ValueError, match=match):
        load(tmp_path / "bad.npy")


def test_npy_object_array_is_not_unpickled(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="without unpickling"):
        load(tmp_path / "obj.npy")


def test_npz_keys(tmp_path):
    X, y = np.ones((4, 2)), np.array([0, 1, 1, 0])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    ds = load(tmp_path / "d.npz")
    np.testing.assert_array_equal(ds.y, y)
    assert ds.y.dtype == np.int64
    np.savez(tmp_path / "single.npz", whatever=X)
    assert load(tmp_path / "single.npz").X.shape == (4, 2)
    np.savez(tmp_path / "two.npz", codes=X, other=X, names=np.array(["a", "b", "b", "c"]))
    with pytest.raises(ValueError, match="cannot tell which array is the data; it holds 'codes', 'other', 'names'"):
        load(tmp_path / "two.npz")
    ds = load(tmp_path / "two.npz", x_key="codes", y_key="names")
    np.testing.assert_array_equal(ds.y, [0, 1, 1, 2])
    assert ds.extras["classes"] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="no array 'labels'; it holds"):
        load(tmp_path / "two.npz", x_key="codes", y_key="labels")
    np.savez(tmp_path / "short.npz", X=X, y=y[:3])
    with pytest.raises(ValueError, match="3 labels but 'X' has 4 samples"):
        load(tmp_path / "short.npz")
    np.savez(tmp_path / "cont.npz", X=X, target=np.array([0.5, 1.0, 2.0, 3.25]))
    assert load(tmp_path / "cont.npz").y.dtype == np.float64


def test_csv_with_and_without_header(tmp_path):
    (tmp_path / "plain.csv").write_text("1,2,3\n4,5,6\n\n7,8,9\n")
    ds = load(tmp_path / "plain.csv")
    np.testing.assert_array_equal(ds.X, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    (tmp_path / "head.csv").write_text("a,b,label\n1.5,2,cat\n3,-4e-1,dog\n0,0,cat\n")
    ds = load(tmp_path / "head.csv", label_column="label")
    np.testing.assert_array_equal(ds.X, np.array([[1.5, 2], [3, -0.4], [0, 0]], dtype=np.float32))
    np.testing.assert_array_equal(ds.y, [0, 1, 0])
    assert ds.extras["classes"] == ["cat", "dog"] and ds.extras["columns"] == ["a", "b"]
    (tmp_path / "num.csv").write_text("7,1,2\n3,3,4\n")
    ds = load(tmp_path / "num.csv", label_column=0)
    np.testing.assert_array_equal(ds.y, [7, 3])
    assert ds.y.dtype == np.int64
    np.testing.assert_array_equal(load(tmp_path / "num.csv", label_column=-1).X, [[7, 1], [3, 3]])


@pytest.mark.parametrize(
    "text, kwargs, match",
    [
        ("a,b\n1,2\n3,x\n", {}, r"row 3, column 2 \('b'\) holds 'x', which is not a number"),
        ("1,2\n3,\n", {}, r"row 2, column 2 \('2'\) holds '', which is not a number"),
        ("1,2,3\n4,5\n", {}, "row 2 has 2 cells, expected 3"),
        ("a,b\n1,2\n3,nan\n", {}, r"row 3, column 2 \('b'\) is nan"),
        ("a,b\n", {}, "zero samples"),
        ("", {}, "empty"),
        ("a,b\n1,2\n", {"label_column": "c"}, "no column named 'c'; columns are 'a', 'b'"),
        ("1,2\n", {"label_column": 5}, "outside the 2 columns"),
        ("1\n2\n", {"label_column": 0}, "no feature columns"),
    ],
)
def test_csv_errors(tmp_path, text, kwargs, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        load(path, **kwargs)
    assert str(path) in str(err.value)


def _png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_folder_of_images_flat_and_by_class(tmp_path):
    a = np.zeros((4, 3), np.uint8)
    b = np.full((4, 3), 255, np.uint8)
    _png(tmp_path / "flat" / "1.png", a)
    _png(tmp_path / "flat" / "2.png", b)
    rgb = np.zeros((4, 3, 3), np.uint8)
    rgb[..., 1] = 255  # pure green -> luma 0.587
    Image.fromarray(rgb).save(tmp_path / "flat" / "3.png")
    (tmp_path / "flat" / "notes.txt").write_text("ignored")
    ds = load(tmp_path / "flat")
    assert ds.X.shape == (3, 12) and ds.image_shape == (4, 3) and ds.y is None
    np.testing.assert_allclose(ds.X[:2], [np.zeros(12), np.ones(12)])
    np.testing.assert_allclose(ds.X[2], 150 / 255, atol=1 / 255)  # PIL's L = 0.587 * 255 rounded
    _png(tmp_path / "cls" / "dogs" / "a.png", a)
    _png(tmp_path / "cls" / "cats" / "b.png", b)
    _png(tmp_path / "cls" / "cats" / "c.png", a)
    ds = load(tmp_path / "cls")
    assert ds.extras["classes"] == ["cats", "dogs"]
    np.testing.assert_array_equal(ds.y, [0, 0, 1])
    assert ds.extras["files"] == ["cats/b.png", "cats/c.png", "dogs/a.png"]


def test_folder_errors(tmp_path):
    _png(tmp_path / "sizes" / "a.png", np.zeros((4, 3), np.uint8))
    _png(tmp_path / "sizes" / "b.png", np.zeros((5, 3), np.uint8))
    with pytest.raises(ValueError, match=r"b.png: image is 3x5 \(width x height\) but a.png is 3x4"):
        load(tmp_path / "sizes")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images found"):
        load(tmp_path / "empty")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="x.png: not a readable image"):
        load(tmp_path / "broken")
    _png(tmp_path / "mixed" / "a.png", np.zeros((2, 2), np.uint8))
    _png(tmp_path / "mixed" / "k" / "b.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="mixes images at the top level with class subfolders"):
        load(tmp_path / "mixed")


def test_missing_and_unsupported(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        load(tmp_path / "nope.npy")
    (tmp_path / "x.parquet").write_text("")
    with pytest.raises(ValueError, match=r"unsupported file type '.parquet'; use .npy, .npz, .csv"):
        load(tmp_path / "x.parquet")
