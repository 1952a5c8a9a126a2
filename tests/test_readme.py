"""The README's Python tour runs as written and prints the values its comments claim.

A comment after a ``print(...)`` that starts with numbers (``# 21``, ``# 0.9995 0.907: ...``) claims
the values printed there, one per printed value, as written: a count exactly, a decimal to within
half a unit of its last shown digit (``1.000`` means the value rounds to 1.000). A claim may state a
wider tolerance itself, ``33.5±0.1``: results of float32 training move a little between CPUs and
thread counts (other rounding, other trajectories), and the README says so where it matters. Every
other number in such a comment must be a setting written in the tour's code (``0.05`` in "KL sparsity
pulls it to 0.05"), so no number can stand in a claim's comment unchecked.
"""

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
CLAIM = re.compile(rf"{NUMBER.pattern}(?:±{NUMBER.pattern})?")


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def _split(block: str):
    """(line number, the numbers a print line's comment claims, the rest of the comment) per print line."""
    for lineno, line in enumerate(block.splitlines(), 1):
        code, sep, comment = line.partition("  # ")
        if not sep or "print(" not in code:
            continue
        tokens = comment.split()
        numbers = []
        while tokens and CLAIM.fullmatch(tokens[0].rstrip(":,;")):
            numbers.append(tokens.pop(0).rstrip(":,;"))
        yield lineno, numbers, " ".join(tokens)


def claims(block: str) -> dict[int, list[str]]:
    """Line number (1-based) -> the numbers a ``print`` line's comment claims, as written."""
    return {lineno: numbers for lineno, numbers, _ in _split(block) if numbers}


def matches(value: float, claim: str) -> bool:
    """Whether a printed value is what the claim says (see the module docstring)."""
    shown, _, tolerance = claim.partition("±")
    if tolerance:
        return abs(float(value) - float(shown)) <= float(tolerance)
    if "." not in shown:  # a count is exact
        return float(value) == int(shown)
    return abs(float(value) - float(shown)) <= 0.5 * 10.0 ** -len(shown.split(".")[1])


def test_readme_has_a_python_tour_with_claims():
    assert python_blocks(), "README.md lost its ```python tour"
    assert claims(python_blocks()[0]), "the tour's print lines claim no values"


def test_claims_are_parsed_as_written():
    block = "print(a)  # 21\nprint(b, c)  # 33.5±0.1 84.5: text\nx = 1  # 3\nprint(d)  # text 4\n"
    assert claims(block) == {1: ["21"], 2: ["33.5±0.1", "84.5"]}
    assert matches(21, "21") and not matches(22, "21")
    # a claim means the value rounds to it at the shown precision
    assert matches(0.999994, "1.0") and matches(0.96, "1.0") and not matches(0.94, "1.0") and not matches(0.9, "1.0")
    assert matches(0.9996, "1.000") and not matches(0.9994, "1.000")
    assert matches(0.904, "0.90") and not matches(0.906, "0.90")
    # unless it states its tolerance
    assert matches(33.58, "33.5±0.1") and not matches(33.7, "33.5±0.1")


def test_every_number_in_a_claims_comment_is_checked_or_a_setting():
    for block in python_blocks():
        code = "\n".join(line.partition("  # ")[0] for line in block.splitlines())
        for lineno, _, rest in _split(block):
            for number in NUMBER.findall(rest):
                assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d.])", code), (
                    f"README tour line {lineno}: {number} in the comment is neither a checked claim nor a setting")


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

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the tour's printed digits as a user on one thread sees them
    try:
        exec(compile(block, f"README.md[python {index}]", "exec"), {"__name__": "readme", "print": record})
    finally:
        torch.set_num_threads(before)
    assert printed, "the tour prints nothing"
    for line, claimed in claims(block).items():
        got = printed.get(line)
        assert got is not None and len(got) == len(claimed), f"line {line}: printed {got}, comment claims {claimed}"
        for value, claim in zip(got, claimed):
            assert matches(value, claim), f"README tour line {line}: printed {value:.6g}, its comment claims {claim}"
