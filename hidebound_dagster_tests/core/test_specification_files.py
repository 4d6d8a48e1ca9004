"""Loading specification modules from files: order, isolation, and one error with every
problem."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from hidebound_dagster.core.specification import SequenceSpecification
from hidebound_dagster.core.specification_files import (
    SpecificationLoadError,
    expand,
    load_specifications,
)

SpecWriter = Callable[..., Path]

HEADER = (
    "from hidebound_dagster.core.specification import FileSpecification, SequenceSpecification\n"
)


def classes(*names: str, base: str = "FileSpecification", extra: str = "") -> str:
    """Module text defining empty specification classes."""
    body = "".join(f"\n\nclass {name}({base}):\n    pass\n" for name in names)
    return HEADER + body + extra


def test_load_one_file(write_spec: SpecWriter) -> None:
    path = write_spec(classes("Raw001", base="SequenceSpecification"), "raw.py")
    specs = load_specifications([path])
    assert list(specs) == ["raw001"]
    spec = specs["raw001"]
    assert spec.__name__ == "Raw001"
    assert issubclass(spec, SequenceSpecification)
    assert spec.asset_type == "sequence"
    assert spec.token() == "raw001"


def test_directory_is_its_public_py_files_in_name_order(
    tmp_path: Path, write_spec: SpecWriter
) -> None:
    directory = tmp_path / "specs"
    write_spec(classes("Zed001"), "z.py", directory)
    write_spec(classes("Alp001"), "a.py", directory)
    write_spec(classes("Mid001"), "m.py", directory)
    write_spec(classes("Pri001"), "_private.py", directory)
    write_spec("this is not even python", "_broken.py", directory)
    (directory / "notes.txt").write_text("class Txt001: not python")
    assert [path.name for path in expand([directory])] == ["a.py", "m.py", "z.py"]
    assert list(load_specifications([directory])) == ["alp001", "mid001", "zed001"]


def test_order_follows_the_given_paths(tmp_path: Path, write_spec: SpecWriter) -> None:
    first = write_spec(classes("Zed001", "Bee001"), "z.py")
    second = write_spec(classes("Alp001"), "a.py")
    assert list(load_specifications([first, second])) == ["bee001", "zed001", "alp001"]
    assert list(load_specifications([second, first])) == ["alp001", "bee001", "zed001"]


def test_loading_is_deterministic_and_cached(write_spec: SpecWriter) -> None:
    path = write_spec(classes("Ccc001", "Aaa001", "Bbb001"), "many.py")
    first = load_specifications([path])
    second = load_specifications([path])
    assert list(first) == list(second) == ["aaa001", "bbb001", "ccc001"]
    assert all(first[token] is second[token] for token in first)


def test_a_changed_file_is_loaded_again(write_spec: SpecWriter) -> None:
    path = write_spec(classes("Old001"), "changing.py")
    assert list(load_specifications([path])) == ["old001"]
    write_spec(classes("New001"), "changing.py")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert list(load_specifications([path])) == ["new001"]


def test_specifications_list_wins_over_discovery(write_spec: SpecWriter) -> None:
    text = classes("Aaa001", "Bbb001", extra="\nSPECIFICATIONS = [Bbb001]\n")
    assert list(load_specifications([write_spec(text, "listed.py")])) == ["bbb001"]


def test_discovery_skips_bases_and_imported_classes(tmp_path: Path, write_spec: SpecWriter) -> None:
    directory = tmp_path / "pkg"
    write_spec(classes("Own001"), "own.py", directory)
    importer = (
        HEADER
        + "import importlib.util, sys\n"
        + "_spec = importlib.util.spec_from_file_location("
        + f"'own_copy', {str(directory / 'own.py')!r})\n"
        + "_module = importlib.util.module_from_spec(_spec)\n"
        + "_spec.loader.exec_module(_module)\n"
        + "Own001 = _module.Own001\n"
        + "\n\nclass Mine001(SequenceSpecification):\n    pass\n"
    )
    path = write_spec(importer, "importer.py", tmp_path / "other")
    assert list(load_specifications([path])) == ["mine001"]


def test_same_basename_in_two_directories(tmp_path: Path, write_spec: SpecWriter) -> None:
    one = write_spec(classes("One001"), "common.py", tmp_path / "a")
    two = write_spec(classes("Two001"), "common.py", tmp_path / "b")
    specs = load_specifications([one, two])
    assert list(specs) == ["one001", "two001"]
    assert specs["one001"].__module__ != specs["two001"].__module__
    # Loading them the other way round changes nothing about either.
    again = load_specifications([two, one])
    assert again["one001"] is specs["one001"]
    assert again["two001"] is specs["two001"]


def test_same_file_twice_is_not_a_collision(tmp_path: Path, write_spec: SpecWriter) -> None:
    path = write_spec(classes("Raw001"), "raw.py", tmp_path / "dir")
    assert list(load_specifications([path, tmp_path / "dir", path])) == ["raw001"]


def test_token_collision_across_files(tmp_path: Path, write_spec: SpecWriter) -> None:
    first = write_spec(classes("Raw001"), "first.py", tmp_path / "a")
    second = write_spec(classes("Raw001"), "second.py", tmp_path / "b")
    with pytest.raises(SpecificationLoadError) as raised:
        load_specifications([first, second])
    assert raised.value.problems == [f"{second}: specification raw001 is defined more than once"]


def test_token_collision_by_case(write_spec: SpecWriter) -> None:
    path = write_spec(classes("Raw001", "RAW001"), "cases.py")
    with pytest.raises(SpecificationLoadError, match="raw001 is defined more than once"):
        load_specifications([path])


def test_every_problem_is_listed_at_once(tmp_path: Path, write_spec: SpecWriter) -> None:
    good = write_spec(classes("Good001"), "good.py")
    paths = {
        "import": write_spec("import not_a_module_of_anyone_xyz\n", "imports.py"),
        "syntax": write_spec("def broken(:\n", "syntax.py"),
        "runtime": write_spec("raise RuntimeError('spec module exploded')\n", "runtime.py"),
        "missing": tmp_path / "missing.py",
        "not_spec": write_spec("SPECIFICATIONS = [int, 'Raw001']\n", "notspec.py"),
        "base": write_spec(HEADER + "SPECIFICATIONS = [FileSpecification]\n", "base.py"),
        "fields": write_spec(
            HEADER
            + "\n\nclass Bad001(FileSpecification):\n"
            + "    filename_fields = ('project', 'specification', 'colour', 'extension')\n"
            + "    asset_name_fields = ('project', 'specification')\n"
            + "\n\nclass Bad002(FileSpecification):\n"
            + "    filename_fields = ('project', 'extension', 'specification')\n"
            + "    asset_name_fields = ('project', 'specification')\n"
            + "\n\nclass Bad003(FileSpecification):\n"
            + "    filename_fields = ('project', 'descriptor', 'extension')\n"
            + "    asset_name_fields = ('project', 'descriptor')\n"
            + "\n\nclass Bad004(FileSpecification):\n"
            + "    asset_name_fields = ('project', 'frame')\n"
            + "\n\nclass Bad005(FileSpecification):\n"
            + "    file_traits = {'width': 5}\n",
            "fields.py",
        ),
        "name": write_spec(classes("Spec1", "Raw0001", "Rawhide001", "Sp001"), "names.py"),
    }
    with pytest.raises(SpecificationLoadError) as raised:
        load_specifications([good, *paths.values()])
    problems = raised.value.problems
    message = str(raised.value)
    expected = [
        (paths["import"], "could not be imported: ModuleNotFoundError"),
        (paths["import"], "not_a_module_of_anyone_xyz"),
        (paths["syntax"], "could not be imported: SyntaxError"),
        (paths["runtime"], "could not be imported: RuntimeError: spec module exploded"),
        (paths["missing"], "is not a file or does not exist"),
        (paths["not_spec"], "<class 'int'> is not a subclass of a specification base"),
        (paths["not_spec"], "'Raw001' is not a subclass of a specification base"),
        (paths["base"], "is not a subclass of a specification base"),
        (paths["fields"], "Bad001: Illegal fields found: ['colour']"),
        (paths["fields"], "Bad002: Illegal field order: Extension field must be last"),
        (paths["fields"], "Bad003: filename_fields must include 'specification'"),
        (paths["fields"], "Bad004: asset_name_fields not in filename_fields: ['frame']"),
        (paths["fields"], "Bad005: every file trait must be a function of a path"),
        (paths["name"], "Spec1: class name must be 3-4 letters and 3 digits"),
        (paths["name"], "Raw0001: class name must be 3-4 letters and 3 digits"),
        (paths["name"], "Rawhide001: class name must be 3-4 letters and 3 digits"),
        (paths["name"], "Sp001: class name must be 3-4 letters and 3 digits"),
    ]
    for path, text in expected:
        assert any(p.startswith(f"{path}: ") and text in p for p in problems), (text, problems)
        assert text in message
    assert not any(str(good) in problem for problem in problems)
    assert message == "\n".join(problems)


def test_specifications_that_is_not_a_list_is_a_problem(write_spec: SpecWriter) -> None:
    """SPECIFICATIONS = Raw001 (a class, not a list) is a problem in the list of problems,
    not an unexpected TypeError."""
    path = write_spec(classes("Raw001", extra="\nSPECIFICATIONS = Raw001\n"), "notlist.py")
    other = write_spec("def broken(:\n", "other.py")
    with pytest.raises(SpecificationLoadError) as raised:
        load_specifications([path, other])
    assert any(p.startswith(f"{path}: ") for p in raised.value.problems)
    assert any(p.startswith(f"{other}: ") for p in raised.value.problems)


def test_class_name_with_non_ascii_digits_is_not_a_token(write_spec: SpecWriter) -> None:
    """Raw + ARABIC-INDIC DIGITS ONE TWO THREE is a legal Python name, but no file name can
    ever carry that token (the grammar takes ASCII digits only): not a usable specification."""
    path = write_spec(classes("Raw\u0661\u0662\u0663"), "arabic_digits.py")
    with pytest.raises(SpecificationLoadError, match="class name must be 3-4 letters"):
        load_specifications([path])


def test_the_bundled_specs_load(write_spec: SpecWriter) -> None:
    from hidebound_dagster_tests.conftest import EXAMPLE_SPECS

    specs = load_specifications([EXAMPLE_SPECS])
    # complexes.py, files.py, sequences.py, then vfx.py in the order of its classes
    assert list(specs) == [
        "tex001",
        "img001",
        "raw001",
        "plt001",
        "rnd001",
        "scn001",
        "txr001",
        "rev001",
    ]
    assert [spec.asset_type for spec in specs.values()] == [
        "complex",
        "file",
        "sequence",
        "sequence",
        "sequence",
        "sequence",
        "sequence",
        "file",
    ]
