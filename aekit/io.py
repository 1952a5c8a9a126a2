"""Atomic writes and model persistence: safetensors for arrays, JSON for the rest.

A saved model is a folder with two files::

    config.json         {"format": "aekit-model", "class": "aekit.decomposition.PCA",
                         "params": {...}, "state": {...}}
    model.safetensors   every fitted array (``components_``, ...) and the
                        ``state_dict`` of every fitted torch module (``module_``)

Nothing is ever pickled. Loading imports the class named in the config (only
from the ``aekit`` package), builds it from its saved ``params`` and restores
the fitted attributes; a torch module is rebuilt by the estimator's
``rebuild_module(name)`` (:class:`TorchModuleEstimator`) from those settings,
never guessed from tensor shapes.
Every write goes to a temporary file (or folder) beside its target and is then
renamed into place, so a crash leaves the old version or the new one, never half
of either.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

__all__ = [
    "atomic_path",
    "atomic_dir",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "read_json",
    "file_digest",
    "save_tensors",
    "load_tensors",
    "save",
    "load",
    "to_jsonable",
    "from_jsonable",
    "TorchModuleEstimator",
]

FORMAT = "aekit-model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


# ---------------------------------------------------------------- atomic writes
@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode a plain open() would
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temporary folder beside ``path``; swap it in for ``path`` on success.

    An existing folder at ``path`` is replaced only once the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def file_digest(path, algorithm: str = "sha256") -> str:
    """Hex digest of the file at ``path`` (``algorithm``: any :mod:`hashlib` name, e.g. ``"md5"``)."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_bytes(path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj) -> Path:
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=True) + "\n")


def read_json(path):
    """Read a JSON file, with an error that names the file when it is not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); the file is corrupt or not an aekit file.") from None


def save_tensors(path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> Path:
    """Write tensors to a safetensors file atomically (CPU, contiguous copies)."""
    clean = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata=metadata)
    return Path(path)


def load_tensors(path, device="cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file; a missing or corrupt file gets a clear error."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable safetensors file ({exc}); it is corrupt or truncated.") from None


# ---------------------------------------------------------------- JSON encoding
def to_jsonable(obj):
    """Plain JSON types from numpy scalars, tuples, paths and small arrays; tuples are tagged.

    An aekit estimator used as a parameter (the layers of a stack) becomes
    ``{"__estimator__": class, "params": {...}}`` and is rebuilt from them.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return {"__tuple__": [to_jsonable(v) for v in obj]}
    if isinstance(obj, list):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return {"__array__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, torch.device):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if _is_aekit_estimator(obj):  # a nested estimator parameter (e.g. the layers of a stack)
        return {"__estimator__": _public_name(type(obj)), "params": to_jsonable(obj.get_params(deep=False))}
    raise TypeError(
        f"{type(obj).__name__} value {obj!r} cannot be saved as JSON; "
        "pass options by name (strings), not as objects or callables, to save a model."
    )


def from_jsonable(obj):
    """Inverse of :func:`to_jsonable`."""
    if isinstance(obj, dict):
        if set(obj) == {"__tuple__"}:
            return tuple(from_jsonable(v) for v in obj["__tuple__"])
        if set(obj) == {"__array__", "dtype"}:
            return np.asarray(obj["__array__"], dtype=obj["dtype"])
        if set(obj) == {"__estimator__", "params"}:
            return _resolve_class(obj["__estimator__"])(**from_jsonable(obj["params"]))
        return {k: from_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_jsonable(v) for v in obj]
    return obj


# ---------------------------------------------------------------- estimators
class TorchModuleEstimator:
    """Interface of the estimators whose fitted state includes torch modules (``module_``, ...).

    :func:`save` stores such a module's ``state_dict``; :func:`load` asks the
    estimator, rebuilt from its saved parameters and fitted attributes, for the
    untrained module of the same structure (:meth:`rebuild_module`) and loads
    the weights into it, so no structure is ever guessed from tensor shapes.
    """

    def rebuild_module(self, name: str) -> torch.nn.Module:
        """The module ``name`` (e.g. ``"module_"``) with its fitted structure and any weights."""
        raise NotImplementedError(f"{type(self).__name__} does not rebuild torch modules.")


def _public_name(cls) -> str:
    """``aekit.<package>.<Class>``: the public path of an aekit class."""
    return f"{cls.__module__.split('._')[0]}.{cls.__name__}"


def _is_aekit_estimator(obj) -> bool:
    return not isinstance(obj, type) and hasattr(obj, "get_params") and type(obj).__module__.startswith("aekit.")


def _fitted_attributes(estimator):
    for name, value in vars(estimator).items():
        if name.endswith("_") and not name.startswith("_") and not name.endswith("__"):
            yield name, value


def save(estimator, path) -> Path:
    """Save a fitted aekit estimator to the folder ``path`` (atomically).

    Fitted numpy arrays and tensors go to ``model.safetensors`` (numeric
    dtypes only; string arrays such as ``classes_`` go to JSON), torch modules
    as their ``state_dict``, and everything else that is JSON-able to
    ``config.json``.
    """
    cls = type(estimator)
    if not cls.__module__.startswith("aekit."):
        raise TypeError(f"aekit.io.save saves aekit estimators, not {cls.__module__}.{cls.__name__}.")
    public_module = cls.__module__.split("._")[0]
    tensors: dict[str, torch.Tensor] = {}
    state: dict[str, object] = {}
    modules: list[str] = []
    for name, value in _fitted_attributes(estimator):
        if isinstance(value, torch.nn.Module):
            modules.append(name)
            for key, t in value.state_dict().items():
                tensors[f"module:{name}.{key}"] = t
        elif isinstance(value, torch.Tensor):
            tensors[f"tensor:{name}"] = value
        elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            tensors[f"array:{name}"] = torch.from_numpy(np.ascontiguousarray(value))
        else:
            state[name] = value
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": f"{public_module}.{cls.__name__}",
        "aekit_version": _version(),
        "params": estimator.get_params(deep=False),
        "state": state,
        "modules": modules,
    }
    payload = json.dumps(to_jsonable(config), indent=2, sort_keys=True) + "\n"
    with atomic_dir(path) as tmp:
        save_file({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, str(tmp / WEIGHTS_FILE))
        (tmp / CONFIG_FILE).write_text(payload, encoding="utf-8")
    return Path(path)


def load(path, device=None):
    """Load an estimator saved by :func:`save`; never unpickles.

    ``device`` overrides the saved ``device`` parameter (e.g. load a GPU-trained
    model on a CPU-only machine with ``device="cpu"``).
    """
    path = Path(path)
    if not (path / CONFIG_FILE).exists():
        raise FileNotFoundError(f"{path} is not a saved aekit model: {CONFIG_FILE} is missing.")
    config = from_jsonable(read_json(path / CONFIG_FILE))
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path / CONFIG_FILE} is not an aekit model config (no 'format': '{FORMAT}').")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{path} was saved by a newer aekit (format {config['format_version']}); upgrade aekit to load it."
        )
    _check_config_entries(config, path / CONFIG_FILE)
    cls = _resolve_class(config["class"])
    params = dict(config["params"])
    if device is not None and "device" in params:
        params["device"] = str(device)
    estimator = cls(**params)
    for name, value in config["state"].items():
        setattr(estimator, name, value)
    tensors = load_tensors(path / WEIGHTS_FILE)
    module_states: dict[str, dict[str, torch.Tensor]] = {name: {} for name in config.get("modules", [])}
    for key, t in tensors.items():
        kind, _, rest = key.partition(":")
        if kind == "array":
            setattr(estimator, rest, t.numpy())
        elif kind == "tensor":
            setattr(estimator, rest, t)
        elif kind == "module":
            name, _, sub = rest.partition(".")
            module_states.setdefault(name, {})[sub] = t
        else:
            raise ValueError(f"{path / WEIGHTS_FILE} has an unknown entry {key!r}; the file is not an aekit model.")
    for name, sd in module_states.items():
        if not isinstance(estimator, TorchModuleEstimator):
            raise ValueError(f"{cls.__name__} holds no torch modules, but {path} has weights for {name!r}.")
        module = estimator.rebuild_module(name)
        module.load_state_dict(sd, strict=True)
        setattr(estimator, name, module)
    return estimator


# what load() reads from config.json besides the format: entry -> (type, what it holds)
_CONFIG_ENTRIES = {
    "class": (str, "the estimator's class, e.g. 'aekit.autoencoders.Autoencoder'"),
    "params": (dict, "the estimator's parameters (get_params)"),
    "state": (dict, "its fitted attributes that are not arrays"),
}


def _check_config_entries(config: dict, config_path: Path) -> None:
    for key, (kind, what) in _CONFIG_ENTRIES.items():
        if not isinstance(config.get(key), kind):
            found = ("is missing" if key not in config
                     else f"is of type {type(config[key]).__name__!r}, not {kind.__name__!r}")
            raise ValueError(
                f"{config_path}: the entry {key!r} ({what}) {found}, so the model cannot be rebuilt; "
                "the file was not written by aekit.io.save or was edited: save the fitted model again with aekit.io.save."
            )


def _resolve_class(qualname: str):
    module_name, _, class_name = qualname.rpartition(".")
    if not (module_name == "aekit" or module_name.startswith("aekit.")):
        raise ValueError(f"Refusing to load class {qualname!r}: only aekit classes can be loaded.")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
    except (ImportError, AttributeError):
        raise ValueError(f"Unknown model class {qualname!r}; was it saved by another aekit version?") from None
    if not isinstance(cls, type):
        raise ValueError(f"{qualname!r} is not a class.")
    return cls


def _version() -> str:
    from aekit import __version__

    return __version__
