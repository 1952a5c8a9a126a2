"""Shared test set-up: the --runslow switch and the MNIST location for slow tests."""

import os
from pathlib import Path

import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
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
