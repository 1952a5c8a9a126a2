"""Where a benchmark number came from: the machine and the commit, for results files."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch

__all__ = ["machine_description", "cpu_flags", "git_commit", "provenance_lines", "command_line", "write_results"]

# The CPU features that change the speed of float32 and bfloat16 matmuls (and their rounding).
_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")

_REPO = Path(__file__).resolve().parents[2]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> dict[str, bool]:
    """Which of the matmul-relevant CPU features (AMX, AVX-512-BF16, AVX-512, AVX2) the CPU reports."""
    found: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                found = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return {flag: flag in found for flag in _FLAGS}


def machine_description() -> str:
    """CPU model and its AMX / AVX-512-BF16 flags, logical CPUs, torch and its threads, the GPU, Python, OS."""
    gpu = f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "no GPU"
    flags = cpu_flags()
    shown = " ".join(f"{k}={'yes' if v else 'no'}" for k, v in flags.items() if k in ("amx_bf16", "avx512_bf16"))
    return (
        f"{_cpu_model()} ({shown}), {os.cpu_count()} logical CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} thread{'' if torch.get_num_threads() == 1 else 's'}), {gpu}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def command_line(program: str, argv: list[str]) -> str:
    """The command as a results file records it, without this machine's paths.

    The data folder (``--data-home``) is shown as ``DIR`` (a folder holding
    ``mnist/``), and an output path outside the working folder as ``FILE``.
    """
    import shlex

    shown, hide = [], None
    for arg in argv:
        if hide is not None:
            shown.append(hide(arg))
            hide = None
            continue
        name, eq, value = arg.partition("=")
        if name == "--data-home":
            shown.append("--data-home=DIR" if eq else arg)
            hide = None if eq else (lambda v: "DIR")
        elif name in ("--out", "-o"):
            shown.append(f"{name}={_local(value)}" if eq else arg)
            hide = None if eq else _local
        else:
            shown.append(arg)
    return " ".join([program, *(shlex.quote(a) if a not in ("DIR", "FILE") else a for a in shown)])


def _local(path: str) -> str:
    return path if not Path(path).is_absolute() and ".." not in Path(path).parts else "FILE"


def provenance_lines(command: str) -> list[str]:
    """Markdown bullet lines every results file starts with: date, commit, machine and threads, command."""
    from datetime import datetime, timezone

    return [
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- commit: {git_commit()}",
        f"- machine: {machine_description()}",
        f"- command: `{command}`",
    ]


def write_results(path, title: str, command: str, body: list[str], notes: str | None = None) -> Path:
    """Write a results file whole (atomically): its title, :func:`provenance_lines`, then ``body``.

    A results file is only ever written by the script that measures; what a
    person writes about the numbers lives in a separate notes file, which
    ``notes`` (its name, beside ``path``) links to and this function never
    touches.
    """
    from aekit.io import atomic_write_text

    path = Path(path)
    lines = [f"# {title}", "", *provenance_lines(command), ""]
    if notes:
        lines += [f"Written whole by the script above; notes written by hand on these results: [{notes}]({notes}).", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, "\n".join(lines + list(body)).rstrip("\n") + "\n")


def git_commit(repo: Path | str | None = None) -> str:
    """Short hash of HEAD, marked when ``aekit/`` or ``benchmarks/`` has uncommitted changes; ``"unknown"`` outside git."""
    repo = Path(repo) if repo is not None else _REPO
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "aekit", "benchmarks/*.py"], cwd=repo, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head + " (with uncommitted changes to the code)" if dirty else head) or "unknown"
