"""The README's Python tour runs as written (on the offline digits and a small swiss roll)."""

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_a_python_tour():
    assert python_blocks(), "README.md lost its ```python tour"


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_python_block_runs(index, capsys):
    torch.set_num_threads(1)
    exec(compile(python_blocks()[index], f"README.md[python {index}]", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.strip()  # the tour prints what it computed
