"""Where a benchmark number came from: the machine and the commit, for results files."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch

__all__ = ["machine_description", "git_commit"]

_REPO = Path(__file__).resolve().parents[2]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> str:
    """CPU model, logical CPUs, torch version and threads, the GPU (or none), Python and OS."""
    gpu = f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "no GPU"
    return (
        f"{_cpu_model()}, {os.cpu_count()} logical CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {gpu}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def git_commit(repo: Path | str | None = None) -> str:
    """Short hash of HEAD, marked when ``aekit/`` has uncommitted changes; ``"unknown"`` outside git."""
    repo = Path(repo) if repo is not None else _REPO
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "aekit"], cwd=repo, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head + " (aekit/ has uncommitted changes)" if dirty else head) or "unknown"
