"""Loading user specification modules from files: deterministic order, no module-name
collisions, and one error listing every problem."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import cloudpickle

from hidebound_dagster.core import naming
from hidebound_dagster.core.specification import (
    ComplexSpecification,
    FileSpecification,
    SequenceSpecification,
    Specification,
)

BASES = (Specification, FileSpecification, SequenceSpecification, ComplexSpecification)
TOKEN = re.compile(r"[a-z]{3,4}[0-9]{3}")
_MODULES: dict[tuple[str, int], ModuleType] = {}


class SpecificationLoadError(ValueError):
    """Specification files that cannot be used; `problems` lists every one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a directory stands for its public *.py files in name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.glob("*.py") if not p.name.startswith("_"))
        else:
            files.append(path)
    return files


def import_file(path: Path) -> ModuleType:
    """Import a Python file under a name unique to its path, once per version of the file."""
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _MODULES:
        digest = hashlib.sha1(key[0].encode()).hexdigest()[:10]
        name = f"hidebound_specs_{path.stem}_{digest}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError("not a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        # Trait functions defined in spec files travel to Dask workers by value.
        cloudpickle.register_pickle_by_value(module)
        _MODULES[key] = module
    return _MODULES[key]


def module_specifications(module: ModuleType) -> list[object]:
    """The module's SPECIFICATIONS list, else every specification class it defines."""
    if hasattr(module, "SPECIFICATIONS"):
        if not isinstance(module.SPECIFICATIONS, list | tuple):
            raise TypeError("SPECIFICATIONS must be a list of specification classes")
        return list(module.SPECIFICATIONS)
    return [
        value
        for _, value in inspect.getmembers(module, inspect.isclass)
        if issubclass(value, Specification)
        and value not in BASES
        and value.__module__ == module.__name__
    ]


def specification_problems(spec: object) -> list[str]:
    """What makes one class unusable as a specification."""
    if not (inspect.isclass(spec) and issubclass(spec, Specification)) or spec in BASES:
        return [f"{spec!r} is not a subclass of a specification base"]
    problems = []
    if not TOKEN.fullmatch(spec.token()):
        problems.append(f"{spec.__name__}: class name must be 3-4 letters and 3 digits (Raw001)")
    try:
        naming.check_fields(spec.filename_fields)
        naming.check_fields(spec.asset_name_fields)
    except ValueError as error:
        problems.append(f"{spec.__name__}: {error}")
    if "specification" not in spec.filename_fields:
        problems.append(f"{spec.__name__}: filename_fields must include 'specification'")
    missing = set(spec.asset_name_fields) - set(spec.filename_fields)
    if missing:
        problems.append(
            f"{spec.__name__}: asset_name_fields not in filename_fields: {sorted(missing)}"
        )
    if any(not callable(func) for func in spec.file_traits.values()):
        problems.append(f"{spec.__name__}: every file trait must be a function of a path")
    return problems


def load_specifications(paths: Iterable[Path]) -> dict[str, type[Specification]]:
    """Specification classes by token, in file order; raise SpecificationLoadError listing every
    unimportable file, bad class and token collision."""
    found: dict[str, type[Specification]] = {}
    problems: list[str] = []
    for path in expand(paths):
        if not path.is_file():
            problems.append(f"{path}: is not a file or does not exist")
            continue
        try:
            module = import_file(path)
        except Exception as error:  # any failure of user code is a config problem
            problems.append(f"{path}: could not be imported: {type(error).__name__}: {error}")
            continue
        try:
            candidates = module_specifications(module)
        except TypeError as error:
            problems.append(f"{path}: {error}")
            continue
        for spec in candidates:
            issues = specification_problems(spec)
            problems += [f"{path}: {issue}" for issue in issues]
            if issues:
                continue
            assert inspect.isclass(spec) and issubclass(spec, Specification)  # it has no issues
            token = spec.token()
            if token in found and found[token] is not spec:
                problems.append(f"{path}: specification {token} is defined more than once")
            found[token] = spec
    if problems:
        raise SpecificationLoadError(problems)
    return found
