"""Shared test set-up: the --runslow switch, the MNIST location for slow tests, SciPy's array-API mode,
one intra-op torch thread where tests ask for it."""

import contextlib
import inspect
import os
import re
import types
from pathlib import Path

import pytest
import torch

# scikit-learn's array-API check (run for every estimator by tests/test_common.py) skips unless
# SciPy was imported in array-API mode, which this variable selects; set before anything imports SciPy.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


# The numerically sensitive tests, which CI runs a second time with one thread (``-m numerics``), so
# that a tolerance tuned to one CPU's rounding or thread count shows up in CI. A test is one of them when
#   - it is marked ``@pytest.mark.numerics`` (a comparison of two computations that none of the rules
#     below sees, e.g. against a closed form written in the test);
#   - its file is one of NUMERICS_FILES (scikit-learn's API checks, the trainer's fast path);
#   - it compares with a peer: its body or one of its fixtures calls scikit-learn, SciPy or MiniSom
#     (their data generators, warnings and containers excepted: they compute nothing to compare);
#   - its name says it compares two computations of the same thing (NUMERICS_NAMES).
NUMERICS_FILES = {"test_common.py", "test_trainer_fast_path.py"}
NUMERICS_NAMES = re.compile(
    r"sklearn|scikit|minisom|scipy|autograd|closed_form|finite_diff|matches|agree|equal|invariant|same|exact"
)
PEERS = re.compile(r"^(sklearn|scipy|minisom)(\.|$)")
NOT_PEERS = re.compile(r"^(sklearn\.(datasets|exceptions|utils)|scipy\.sparse(\._|$))")


def _calls_a_peer(function) -> bool:
    """Whether the code of ``function`` (nested functions and lambdas included) names a peer's object."""
    names, codes = set(), [function.__code__]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
    for name in names:
        module = inspect.getmodule(function.__globals__[name]) if name in function.__globals__ else None
        if module is not None and PEERS.match(module.__name__) and not NOT_PEERS.match(module.__name__):
            return True
    return False


def _is_numerics(item) -> bool:
    if item.get_closest_marker("numerics") or item.path.name in NUMERICS_FILES:
        return True
    if NUMERICS_NAMES.search(item.originalname or item.name):
        return True
    fixtures = [d.func for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs]
    return any(_calls_a_peer(inspect.unwrap(f)) for f in [item.function, *fixtures])


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _is_numerics(item):
            item.add_marker(pytest.mark.numerics)
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow (make test-all)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def mnist_home():
    """Folder holding mnist/ with the four canonical files, from AEKIT_MNIST_HOME; skips when unset."""
    home = os.environ.get("AEKIT_MNIST_HOME")
    if not home or not (Path(home) / "mnist").is_dir() and not (Path(home) / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("set AEKIT_MNIST_HOME to a folder with the MNIST files to run this test")
    return Path(home)



# The thread count the one-thread fixtures set: 1 by default (tiny models, shared machines);
# AEKIT_TEST_THREADS=0 leaves torch's own count, so that CI runs those tests with every thread too.
TEST_THREADS = int(os.environ.get("AEKIT_TEST_THREADS", "1"))


@contextlib.contextmanager
def _torch_threads(n: int):
    before = torch.get_num_threads()
    if TEST_THREADS == 0:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_torch_thread():
    """torch on one intra-op thread for the test, then the thread count it had.

    The models of most tests are tiny: more threads only add waiting, badly so on a shared
    machine. Use it per module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``),
    per folder (an autouse fixture in the folder's conftest.py that requests it) or per test.
    """
    with _torch_threads(1):
        yield


@pytest.fixture(scope="module")
def one_torch_thread_per_module():
    """:func:`one_torch_thread` for a whole module, module-scoped fixtures (fitted models) included."""
    with _torch_threads(1):
        yield
