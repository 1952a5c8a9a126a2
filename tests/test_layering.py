"""Imports point down the layers, and across packages only through a package's public names.

Every module under aekit/ is parsed (imports inside functions included). The layers are the
ones the README's "Layout" section lists:

    0  aekit (the package __init__), aekit._torch, aekit._params, aekit._validation, aekit.io
    1  datasets, training
    2  decomposition, manifold, autoencoders, harvest
    3  metrics, inspection
    4  viz, bench
    5  cli
    6  aekit.__main__ (`python -m aekit`)

A module may import from its own package and from packages of a lower layer, never from its
own layer or above (layer-0 modules may import each other). An import that crosses packages
names a public module (no ``_private`` part after ``aekit.``, the layer-0 helpers excepted) and
only names that module exports (its ``__all__``).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "aekit"

LAYERS: dict[str, int] = {
    "": 0,  # aekit/__init__.py
    "_torch": 0,
    "_params": 0,
    "_validation": 0,
    "io": 0,
    "datasets": 1,
    "training": 1,
    "decomposition": 2,
    "manifold": 2,
    "autoencoders": 2,
    "harvest": 2,
    "metrics": 3,
    "inspection": 3,
    "viz": 4,
    "bench": 4,
    "cli": 5,
    "__main__": 6,  # python -m aekit: above the command line it runs
}

#: Known exceptions, each with the reason it is allowed: (importing module, imported module).
ALLOWED: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    names: tuple[str, ...]  # the names taken from it (empty for `import x`)
    line: int

    def where(self) -> str:
        return f"{self.module} (line {self.line})"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[Import]:
    """Every import of an aekit module in ``path``, at any depth; ``from aekit import x`` as module aekit.x."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(module, a.name, (), node.lineno) for a in node.names if a.name.split(".")[0] == "aekit"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "aekit":
                continue
            names = tuple(a.name for a in node.names)
            if target == "aekit":  # `from aekit import io, viz, __version__`: each a module (or the version)
                found += [Import(module, f"aekit.{n}", (), node.lineno) for n in names if not n.startswith("__")]
            else:
                found.append(Import(module, target, names, node.lineno))
    return found


def _top(dotted: str) -> str:
    """The layer key of a module: its package under aekit (or the layer-0 module's name)."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else ""


MODULES = sorted(PACKAGE.rglob("*.py"))
IMPORTS = [imp for path in MODULES for imp in _imports(path)]
CROSSING = [imp for imp in IMPORTS if _top(imp.module) != _top(imp.target)]


def test_every_package_has_a_layer():
    tops = {_top(_module_name(p)) for p in MODULES}
    assert tops <= set(LAYERS), f"add {sorted(tops - set(LAYERS))} to LAYERS here and to the README's Layout"


def test_the_parser_sees_nested_imports():
    # the CLI imports its libraries inside the commands: a parser that missed them would pass vacuously
    nested = [imp for imp in IMPORTS if imp.module == "aekit.cli._fit_manifold" and imp.target == "aekit.manifold"]
    assert nested, "imports inside functions were not found"


def test_imports_point_down_the_layers():
    wrong = []
    for imp in CROSSING:
        if (imp.module, imp.target) in ALLOWED:
            continue
        src, dst = LAYERS[_top(imp.module)], LAYERS[_top(imp.target)]
        if dst > src or (dst == src and src > 0):
            wrong.append(f"{imp.where()} imports {imp.target}: layer {src} may not import layer {dst}")
    assert not wrong, "\n".join(wrong)


def _private_part(dotted: str) -> str | None:
    parts = dotted.split(".")[1:]
    if parts and LAYERS.get(parts[0]) == 0:  # the layer-0 helpers are modules meant to be imported
        parts = parts[1:]
    return next((p for p in parts if p.startswith("_")), None)


def test_imports_across_packages_use_public_modules():
    wrong = [
        f"{imp.where()} imports {imp.target}: use the names that {imp.target.rsplit('.', 1)[0]} exports"
        for imp in CROSSING
        if (imp.module, imp.target) not in ALLOWED and _private_part(imp.target)
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("target", sorted({imp.target for imp in CROSSING if _private_part(imp.target) is None}))
def test_imports_across_packages_take_exported_names(target):
    module = importlib.import_module(target)
    exported = set(getattr(module, "__all__", ()))
    wrong = [
        f"{imp.where()} takes {name!r} from {target}, which does not export it (add it to __all__ or use another name)"
        for imp in CROSSING
        if imp.target == target
        for name in imp.names
        if name not in exported and not (name.startswith("__") or importlib.util.find_spec(f"{target}.{name}"))
    ]
    assert not wrong, "\n".join(wrong)


def test_allowed_exceptions_still_exist():
    # an exception that no import needs any more should leave the list
    used = {(imp.module, imp.target) for imp in CROSSING}
    stale = [f"{pair} ({why})" for pair, why in ALLOWED.items() if pair not in used]
    assert not stale, "remove from ALLOWED: " + ", ".join(stale)
