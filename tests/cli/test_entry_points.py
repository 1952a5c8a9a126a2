"""The command line's entry points: ``python -m aekit`` works like ``aekit``, as ``python -m pip`` does."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _python_m_aekit(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "aekit", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_python_m_aekit_help_lists_the_commands():
    result = _python_m_aekit("--help")
    assert result.returncode == 0, result.stderr
    for command in ("demo", "fit", "train", "eval", "report", "explore", "datasets", "bench"):
        assert command in result.stdout, command


def test_python_m_aekit_runs_a_command_and_reports_bad_options():
    listing = _python_m_aekit("bench", "paper", "--list")
    assert listing.returncode == 0, listing.stderr
    assert "vincent2010-sda3" in listing.stdout and "minutes" in listing.stdout
    bad = _python_m_aekit("fit", "pca", "--dataset", "no-such-data")
    assert bad.returncode == 2 and "Unknown dataset" in bad.stdout + bad.stderr
