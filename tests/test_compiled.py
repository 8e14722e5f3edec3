"""The optional mypyc build (setup.py): what runs is what the run says it is, the source
tree never holds a compiled module, and a machine that cannot compile gets pure Python.

``scripts/test.sh`` runs the whole suite twice: on the development tree (pure Python, an
editable install) and on ``build/compiled`` (the wheel a normal install builds, with
setup.py's ``COMPILED`` modules compiled), with ``FLACK_EXPECT_COMPILED=1``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.test_architecture import _imports

ROOT = Path(__file__).resolve().parents[1]


def compiled_list() -> list[str]:
    """setup.py's COMPILED, read without running setup.py."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "COMPILED" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            assert isinstance(value, list)
            return [str(path) for path in value]
    raise AssertionError("setup.py has no COMPILED list")


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def test_the_compiled_list_names_modules_that_exist() -> None:
    paths = compiled_list()
    assert paths, "COMPILED is empty"
    for path in paths:
        assert (ROOT / path).is_file(), path
        assert path.startswith("flackd/"), path


def test_each_listed_module_is_compiled_exactly_when_the_run_expects_it() -> None:
    """The compiled run really runs compiled code, and the pure run pure code: a build
    that silently fell back to Python, or an extension left in the tree, fails here."""
    expect = os.environ.get("FLACK_EXPECT_COMPILED") == "1"
    for path in compiled_list():
        module = importlib.import_module(module_name(path))
        origin = str(module.__file__)
        if expect:
            assert origin.endswith(".so"), f"{module.__name__} runs from {origin}"
        else:
            assert origin.endswith(".py"), f"{module.__name__} runs from {origin}"


def source_of(module: str) -> Path | None:
    """The file of ``module`` in the tree (a package's ``__init__.py``), if it is one."""
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_the_build_has_every_package_mypyc_must_type_check() -> None:
    """mypyc type-checks the compiled modules and every module they import, at any depth;
    a package missing from the build's environment is an error that leaves the whole
    build pure Python, silently (pip's isolated build has only [build-system] requires).
    So every package outside the standard library and flackd that those modules reach
    must be a build requirement."""
    tomllib = importlib.import_module("tomllib")
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    required = {
        re.split(r"[<>=!~ \[;]", spec, maxsplit=1)[0].lower() for spec in requires["requires"]
    }
    seen: set[Path] = set()
    todo = [ROOT / path for path in compiled_list()]
    outside: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path, members=True):
            top = name.split(".")[0]
            if top in ("flackd", "flackcli"):
                found = source_of(name)
                if found is not None:  # (else a name from a module, not a module)
                    todo.append(found)
            elif top not in sys.stdlib_module_names and top != "__future__":
                outside.add(top)
    assert outside <= required, f"add to pyproject's [build-system] requires: {outside - required}"


def test_every_subclass_of_a_compiled_class_is_compiled_too() -> None:
    """mypyc refuses to make an instance of an interpreted subclass of a compiled class
    (TypeError at run time, and only in the compiled build): a class that subclasses one
    from a compiled module must be compiled as well (StreamConnection and the replica's
    Remote, both Connections). Checked on the source, so the pure run catches it too."""
    compiled = {module_name(path) for path in compiled_list()}
    package = importlib.import_module("flackd")
    wrong: list[str] = []
    for info in pkgutil.walk_packages(package.__path__, "flackd."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if not isinstance(value, type) or value.__module__ != info.name:
                continue
            bases = [base for base in value.__mro__[1:] if base.__module__ in compiled]
            if bases and info.name not in compiled:
                wrong.append(f"{info.name}.{value.__qualname__} ({bases[0].__qualname__})")
    assert wrong == [], f"add their modules to setup.py's COMPILED: {wrong}"


def test_the_source_tree_holds_no_compiled_module() -> None:
    """An extension beside its source shadows every later edit of it (Python imports the
    extension first): compiled builds go to build/, never into the tree."""
    found = [
        str(path.relative_to(ROOT))
        for package in ("flackd", "flackcli")
        for pattern in ("*.so", "*.pyd")
        for path in (ROOT / package).rglob(pattern)
    ]
    assert found == [], f"remove these (and build with scripts/build-compiled.sh): {found}"


def pure_build(tmp_path: Path, cc: str) -> list[str]:
    """Build a wheel of a copy of the tree with ``CC=cc``, as a normal build does (not
    required to compile); the files in it."""
    if importlib.util.find_spec("mypyc") is None:
        pytest.fail("mypyc comes with mypy, a development dependency: reinstall the venv")
    tree = tmp_path / "src"
    tree.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, tree / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.so")
    for package in ("flackd", "flackcli"):
        shutil.copytree(ROOT / package, tree / package, ignore=ignore)
    env = {**os.environ, "CC": cc, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("FLACK_PURE", None)
    env.pop("FLACK_REQUIRE_COMPILED", None)
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    argv += ["--no-cache-dir", "-w", str(tmp_path / "wheel"), str(tree)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (tmp_path / "wheel").glob("flack-*.whl")
    # (Such a wheel may keep the package under flack-<version>.data/purelib/, which an
    # install puts in the same place.)
    return [name.split("/purelib/", 1)[-1] for name in zipfile.ZipFile(wheel).namelist()]


def assert_whole_and_pure(names: list[str]) -> None:
    assert not [name for name in names if name.endswith((".so", ".pyd"))]
    for path in compiled_list():
        assert path in names, path


@pytest.mark.subprocess
def test_without_a_c_compiler_the_build_is_pure_python(tmp_path: Path) -> None:
    """The normal build where no C compiler works (CC=/bin/false): it succeeds, and the
    wheel holds every module as Python source and no extension."""
    assert_whole_and_pure(pure_build(tmp_path, "/bin/false"))


@pytest.mark.subprocess
def test_a_build_that_compiles_only_some_modules_is_pure_python(tmp_path: Path) -> None:
    """All or nothing: mypyc's modules are shims over one shared library, so when one of
    them fails to compile after others were built (here grammar's, by a compiler that
    refuses that one file), every extension built so far is dropped as well."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("no gcc here (scripts/setup.sh installs it with apt)")
    cc = tmp_path / "cc"
    cc.write_text(f'#!/bin/sh\ncase "$*" in *grammar.c*) exit 1;; esac\nexec {gcc} "$@"\n')
    cc.chmod(0o755)
    assert_whole_and_pure(pure_build(tmp_path, str(cc)))
