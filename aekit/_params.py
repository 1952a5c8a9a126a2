"""Parameter sets defined once: name, default, constraint and documentation of each option.

A family of settings (the trainer's, the autoencoder model's) is a dict of
:class:`Option` in one module. Everything that takes those settings is built
from it: a scikit-learn estimator's ``__init__`` signature (which ``get_params``,
``clone`` and saved configs introspect) and ``_parameter_constraints``, the
Parameters section of its docstring, and the checks of classes that are not
estimators (:func:`check_options`, with scikit-learn's constraint language, so
there is one validation system). Adding an option to a family is one entry in
its dict plus the code that uses it.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass

from sklearn.utils._param_validation import validate_parameter_constraints

__all__ = ["Option", "parameter_constraints", "parameters_doc", "make_init", "check_options", "option_values"]

_NO_EXAMPLE = object()


@dataclass(frozen=True)
class Option:
    """One setting.

    Attributes
    ----------
    default : object
    constraint : list
        scikit-learn constraints (``[Interval(Real, 0, None, closed="left")]``, ``["boolean"]``, ...).
    kind : str
        The type as the docs show it (``"float"``, ``"{'adam', 'sgd'}"``).
    doc : str
        What it does, one or a few sentences.
    example : object
        A valid value other than the default (tests use it to check that the
        option reaches the code that uses it).
    """

    default: object
    constraint: list
    kind: str
    doc: str
    example: object = _NO_EXAMPLE


def _merged(sets, defaults: Mapping | None = None) -> dict[str, Option]:
    merged: dict[str, Option] = {}
    for options in sets:
        for name, option in options.items():
            if name in merged:
                raise ValueError(f"option {name!r} is defined in two parameter sets.")
            merged[name] = option
    for name, value in (defaults or {}).items():
        if name not in merged:
            raise ValueError(f"unknown option {name!r} given a default; known: {sorted(merged)}.")
        merged[name] = Option(value, merged[name].constraint, merged[name].kind, merged[name].doc, merged[name].example)
    return merged


def parameter_constraints(*sets: Mapping[str, Option], **extra) -> dict:
    """``_parameter_constraints`` of an estimator taking every option of ``sets`` (plus ``extra``)."""
    return {**{name: list(o.constraint) for name, o in _merged(sets).items()}, **extra}


def parameters_doc(*sets: Mapping[str, Option], defaults: Mapping | None = None, indent: int = 4) -> str:
    """numpydoc entries (``name : kind, default=...`` and the indented description) of every option."""
    pad = " " * indent
    lines = []
    for name, o in _merged(sets, defaults).items():
        lines.append(f"{pad}{name} : {o.kind}, default={o.default!r}")
        lines.extend(f"{pad}    {line}" for line in o.doc.splitlines())
    return "\n".join(lines)


def make_init(*sets: Mapping[str, Option], positional: tuple[str, ...] = (), defaults: Mapping | None = None):
    """An ``__init__(self, <positional>, *, <the rest>)`` that stores every option of ``sets`` verbatim.

    The signature carries each option's default (``defaults`` replaces some),
    so scikit-learn's ``get_params`` / ``clone`` see the full parameter set.
    """
    options = _merged(sets, defaults)
    unknown = set(positional) - set(options)
    if unknown:
        raise ValueError(f"positional options {sorted(unknown)} are not in the parameter sets.")
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=options[n].default) for n in positional]
    params += [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=o.default)
        for n, o in options.items()
        if n not in positional
    ]
    signature = inspect.Signature(params)

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            if name != "self":
                setattr(self, name, value)

    __init__.__signature__ = signature
    return __init__


def option_values(obj, *sets: Mapping[str, Option]) -> dict:
    """``{name: obj.name}`` for every option of ``sets``: the settings an object hands on."""
    return {name: getattr(obj, name) for options in sets for name in options}


def check_options(options: Mapping[str, Option], values: Mapping, caller: str) -> None:
    """Validate ``values`` against the options' constraints (scikit-learn's errors, naming ``caller``)."""
    unknown = set(values) - set(options)
    if unknown:
        raise TypeError(f"{caller} got unknown settings {sorted(unknown)}; valid ones: {sorted(options)}.")
    validate_parameter_constraints({k: options[k].constraint for k in values}, dict(values), caller_name=caller)
