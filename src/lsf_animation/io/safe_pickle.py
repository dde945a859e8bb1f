"""Restricted unpickling: rebuild data, never run code from the file.

Pickles name the classes and functions needed to rebuild their objects, and a plain
`pickle.load` imports and calls whatever they name. `RestrictedUnpickler` resolves only an
allow-list: builtin containers and scalars, `collections.OrderedDict`/`defaultdict`, numpy arrays,
scalars and dtypes, and on request torch's tensor-rebuilding functions (for `torch.load`) and
scipy sparse matrices (for FLAME's `J_regressor`). Every other global named in the file, a class
or a function such as `os.system`, becomes an inert `Placeholder` subclass: "calling" it only
records the arguments, and the pickled state is kept as data. So a checkpoint whose training
config pickles fairseq or omegaconf objects, or a FLAME file full of chumpy objects, still loads,
a hostile object under a key nobody reads stays inert, and nothing from the file ever runs.

Used by the FLAME reader (`face.flame_file`), emotion2vec's checkpoint reader
(`audio.data2vec_checkpoint`) and the reader of the authors' released checkpoints.
"""

from __future__ import annotations

import _codecs
import builtins
import collections
import copyreg
import pickle
import types
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

_BUILTINS = {
    "set", "frozenset", "dict", "list", "tuple", "object", "slice", "complex", "bytearray",
    "bytes", "str", "int", "float", "bool", "range",
}  # fmt: skip
_NUMPY_FUNCTIONS = {"_reconstruct", "scalar", "_frombuffer"}
_NUMPY_CLASSES = {"ndarray", "dtype", "matrix"}
_TORCH_REBUILDS = (
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
)


class Placeholder:
    """An object of a class we do not import: the class path it named (`source`), its
    constructor arguments (`args`) and its pickled state (`state`, a dict), plus whatever the
    pickle appended (`items` for SETITEMS, `values` for APPENDS). Nothing of the class runs."""

    source = "?"

    def __new__(cls, *args: object, **kwargs: object) -> Placeholder:
        self = object.__new__(cls)
        self.args = args
        self.state = {}
        return self

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    args: tuple[object, ...]
    state: dict[str, object]

    def __setstate__(self, state: object) -> None:
        self.state = state if isinstance(state, dict) else {"state": state}

    def __setitem__(self, key: object, value: object) -> None:
        self.__dict__.setdefault("items", {})[key] = value

    def append(self, value: object) -> None:
        self.__dict__.setdefault("values", []).append(value)

    def extend(self, values: list[object]) -> None:
        for value in values:
            self.append(value)

    def __call__(self, *args: object, **kwargs: object) -> Placeholder:
        # A pickle may call what it rebuilt (e.g. getattr(cls, name)(...)): stay inert.
        return Placeholder(*args)


PlaceholderFactory = Callable[[str, str], type[Placeholder]]
_PLACEHOLDERS: dict[tuple[type[Placeholder], str], type[Placeholder]] = {}


def placeholder_class(module: str, name: str, base: type[Placeholder] = Placeholder) -> type:
    """The (cached) inert class standing in for `module.name`, derived from `base`."""
    path = f"{module}.{name}"
    key = (base, path)
    if key not in _PLACEHOLDERS:
        _PLACEHOLDERS[key] = type(name, (base,), {"source": path, "__module__": "placeholder"})
    return _PLACEHOLDERS[key]


def _reconstructor(cls: type, base: type, state: object) -> object:
    """`copyreg._reconstructor` (how protocol 0/1 pickles rebuild objects) for allowed classes;
    a placeholder class gets an inert instance with the state kept as data."""
    if isinstance(cls, type) and issubclass(cls, Placeholder):
        obj = cls.__new__(cls)
        if state is not None:
            obj.__setstate__(state)
        return obj
    return copyreg._reconstructor(cls, base, state)  # type: ignore[attr-defined]


def _numpy_global(module: str, name: str) -> object | None:
    if not (module == "numpy" or module.startswith("numpy.")):
        return None
    submodule = module.rsplit(".", 1)[-1]
    if name in _NUMPY_FUNCTIONS and submodule in ("multiarray", "numeric"):
        core = getattr(np, "_core", None) or np.core  # numpy 2 renamed numpy.core
        return getattr(getattr(core, submodule), name, None)
    if name in _NUMPY_CLASSES:
        return getattr(np, name)
    if module == "numpy.dtypes" and name.endswith("DType"):
        cls = getattr(np.dtypes, name, None)
        return cls if isinstance(cls, type) else None
    cls = getattr(np, name, None)
    if isinstance(cls, type) and issubclass(cls, np.generic):  # numpy scalar types
        return cls
    return None


def _torch_global(module: str, name: str) -> object | None:
    import torch
    import torch._utils

    if module == "torch._utils" and name in _TORCH_REBUILDS:
        return getattr(torch._utils, name, None)
    if module == "torch" and name in ("Size", "device"):
        return getattr(torch, name)
    if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
        return getattr(torch, name)
    if module == "torch" and name.endswith("Storage"):  # legacy (pre-zip) torch.save format
        storage = getattr(torch, name, None)
        return storage if isinstance(storage, type) else None
    return None


def _scipy_sparse_global(module: str, name: str) -> object | None:
    if not (module == "scipy.sparse" or module.startswith("scipy.sparse.")):
        return None
    import scipy.sparse

    # Old pickles name private modules (scipy.sparse.csc); the classes live on scipy.sparse.
    cls = getattr(scipy.sparse, name, None)
    if isinstance(cls, type) and (name.endswith("_matrix") or name.endswith("_array")):
        return cls
    return None


def allowed_global(
    module: str, name: str, torch_tensors: bool = False, scipy_sparse: bool = False
) -> object | None:
    """The object an allowed pickle global names, or None when it is not allowed."""
    if module in ("builtins", "__builtin__") and name in _BUILTINS:
        return getattr(builtins, name)
    if module in ("copyreg", "copy_reg"):
        if name == "_reconstructor":
            return _reconstructor
        if name == "__newobj__":
            return copyreg.__newobj__  # type: ignore[attr-defined]
        return None
    if module == "_codecs" and name == "encode":  # how Python 2 pickles store byte strings
        return _codecs.encode
    if module == "collections" and name in ("OrderedDict", "defaultdict"):
        return getattr(collections, name)
    found = _numpy_global(module, name)
    if found is None and torch_tensors:
        found = _torch_global(module, name)
    if found is None and scipy_sparse:
        found = _scipy_sparse_global(module, name)
    return found


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only `allowed_global`s and turns other classes into
    placeholders (see the module docstring).

    Args:
        file: the binary stream.
        torch_tensors: also allow torch's tensor-rebuilding functions (torch.load).
        scipy_sparse: also allow scipy sparse matrices.
        placeholder: makes the class for a refused class path (default `placeholder_class`).
        **kwargs: passed to `pickle.Unpickler` (e.g. encoding="latin1" for Python 2 pickles).
    """

    def __init__(
        self,
        file: IO[bytes],
        *,
        torch_tensors: bool = False,
        scipy_sparse: bool = False,
        placeholder: PlaceholderFactory = placeholder_class,
        **kwargs: Any,
    ) -> None:
        super().__init__(file, **kwargs)
        self._torch, self._sparse, self._placeholder = torch_tensors, scipy_sparse, placeholder

    def find_class(self, module: str, name: str) -> Any:
        found = allowed_global(module, name, self._torch, self._sparse)
        return found if found is not None else self._placeholder(module, name)


def restricted_load(file: IO[bytes], **options: Any) -> object:
    """Unpickle one object from `file` with `RestrictedUnpickler(file, **options)`."""
    return RestrictedUnpickler(file, **options).load()


def torch_load_mapped(path: Path, **options: Any) -> Any:
    """`torch.load(path, map_location="cpu", **options)` memory-mapping the file (the weights are
    then used in place, not copied); files in the legacy (pre-zip) format, which cannot be
    mapped, are read normally."""
    import torch

    try:
        return torch.load(path, map_location="cpu", mmap=True, **options)
    except RuntimeError as err:
        if "mmap" not in str(err):
            raise
        return torch.load(path, map_location="cpu", **options)


def torch_pickle_module(placeholder: PlaceholderFactory = placeholder_class) -> types.ModuleType:
    """A module to pass as `torch.load(..., pickle_module=...)` so that a checkpoint is read with
    the restricted unpickler (tensors allowed, other classes placeholders)."""

    class _TorchUnpickler(RestrictedUnpickler):
        def __init__(self, file: IO[bytes], **kwargs: Any) -> None:
            super().__init__(file, torch_tensors=True, placeholder=placeholder, **kwargs)

    module = types.ModuleType("lsf_restricted_pickle")
    module.Unpickler = _TorchUnpickler  # type: ignore[attr-defined]
    module.load = lambda f, **kw: _TorchUnpickler(f, **kw).load()  # type: ignore[attr-defined]
    return module
