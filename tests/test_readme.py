"""The README's Python tour runs as written and prints the values its comments claim.

A comment after a ``print(...)`` that starts with numbers (``# 21``, ``# 33.5 84.5: ...``) claims
the values printed there, rounded as written. Each printed number must match its claim to one unit
in the claim's last digit, or to 2 % of it, whichever is larger: results of float32 training move
a little between CPUs and thread counts (other rounding, other trajectories), never by more.
"""

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def claims(block: str) -> dict[int, list[str]]:
    """Line number (1-based) -> the numbers a ``print`` line's comment claims, as written."""
    out = {}
    for lineno, line in enumerate(block.splitlines(), 1):
        code, sep, comment = line.partition("  # ")
        if not sep or "print(" not in code:
            continue
        numbers = []
        for token in comment.split():
            token = token.rstrip(":,;")
            if not NUMBER.fullmatch(token):
                break
            numbers.append(token)
        if numbers:
            out[lineno] = numbers
    return out


def matches(value: float, claim: str) -> bool:
    if "." not in claim:  # a count is exact
        return float(value) == int(claim)
    tol = max(10.0 ** -len(claim.split(".")[1]), 0.02 * abs(float(claim)))
    return abs(float(value) - float(claim)) <= tol


def test_readme_has_a_python_tour_with_claims():
    assert python_blocks(), "README.md lost its ```python tour"
    assert claims(python_blocks()[0]), "the tour's print lines claim no values"


def test_claims_are_parsed_as_written():
    block = "print(a)  # 21\nprint(b, c)  # 33.5 84.5: text\nx = 1  # 3\nprint(d)  # text 4\n"
    assert claims(block) == {1: ["21"], 2: ["33.5", "84.5"]}
    assert matches(21, "21") and not matches(22, "21")
    assert matches(0.999994, "1.0") and matches(0.905, "0.90") and not matches(0.88, "0.90")
    assert matches(33.9, "33.5") and not matches(35.0, "33.5")  # 2 % of 33.5 = 0.67


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_python_block_prints_what_it_claims(index):
    block = python_blocks()[index]
    printed: dict[int, list[float]] = {}

    def record(*args, **kwargs):
        line = sys._getframe(1).f_lineno
        values = []
        for a in args:
            values.extend(np.ravel(np.asarray(a, dtype=np.float64)).tolist())
        printed.setdefault(line, []).extend(values)

    torch.set_num_threads(1)
    exec(compile(block, f"README.md[python {index}]", "exec"), {"__name__": "readme", "print": record})
    assert printed, "the tour prints nothing"
    for line, claimed in claims(block).items():
        got = printed.get(line)
        assert got is not None and len(got) == len(claimed), f"line {line}: printed {got}, comment claims {claimed}"
        for value, claim in zip(got, claimed):
            assert matches(value, claim), f"README tour line {line}: printed {value:.6g}, its comment claims {claim}"
