"""The ``numerics`` marker (tests/conftest.py) reaches the tests CI reruns with one thread."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# One of each kind the rule must find, among them tests whose names do not say what they compare.
NUMERICS = [
    "tests/manifold/test_isomap.py::test_out_of_sample",  # against scikit-learn through a fixture
    "tests/manifold/test_kernel_pca.py::test_linear_kernel_is_pca",  # against scikit-learn's PCA
    "tests/inspection/test_activation_maximization.py::test_box_bounds_match_a_general_solver",  # SciPy
    "tests/manifold/test_lle.py::test_embedding_unrolls_the_curve",  # against a scikit-learn PCA control
    "tests/autoencoders/test_autoencoder_module.py::test_bfloat16_autocast_stays_close_to_float32",  # marked
    "tests/training/test_trainer_fast_path.py",  # a whole file
]
NOT_NUMERICS = ["tests/manifold/test_isomap.py::test_errors"]


def _selected(node_ids):
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "numerics", "-p", "no:cacheprovider",
         *node_ids],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode in (0, 5), out.stdout + out.stderr  # 5: nothing selected
    return [line.split("[")[0] for line in out.stdout.splitlines() if "::" in line]


def test_equivalence_tests_are_marked_numerics():
    selected = _selected(NUMERICS)
    for node in NUMERICS:
        assert any(s == node or s.startswith(node + "::") for s in selected), node


def test_other_tests_are_not():
    assert _selected(NOT_NUMERICS) == []
