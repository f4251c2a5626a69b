"""The project definition: what pyproject.toml declares exists and runs."""

from __future__ import annotations

import ast
import importlib
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_console_script_is_the_cli(capsys) -> None:
    module, _, function = PROJECT["scripts"]["voltaro"].partition(":")
    main = getattr(importlib.import_module(module), function)
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "OCPP 1.6J and 2.0.1 central system" in capsys.readouterr().out


def test_dependencies_are_the_pinned_requirements() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "dependencies" in PROJECT["dynamic"]
    assert setuptools["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}
    pins = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert pins and all("==" in line for line in pins), pins


def test_license_file_is_the_declared_license() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    text = (ROOT / PROJECT["license-files"][0]).read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text


def _imported_test_modules(source: str, package: str) -> list[str]:
    """The test modules (test_*.py, conftest.py) that `source`, a module of `package`
    (dotted), imports, by their dotted names."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            # `from tests.v201 import test_messages` names a module; `from x import y`, y.
            modules = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found += [
            name
            for name in modules
            if name.startswith("tests.")
            and name.rsplit(".", 1)[-1].startswith(("test_", "conftest"))
        ]
    return found


@pytest.mark.parametrize(
    "source",
    [
        "from tests.test_remote_operations import eventually",
        "from tests.v201.test_transactions import started",
        "import tests.browser.test_operator_journey",
        "from tests.conftest import ADMIN",
        "from tests.security import test_certificates",
        "from .test_messages import boot",
    ],
)
def test_an_import_of_a_test_module_is_seen(source: str) -> None:
    assert _imported_test_modules(source, "tests.v201")


def test_no_test_module_imports_another() -> None:
    """Shared helpers are in tests/helpers.py (and the other non-test modules of tests/),
    fixtures in conftest.py. A test module imported by another is imported twice, under
    its own name and under pytest's (conftest.py too), and its module-level state split."""
    offenders = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        package = ".".join(path.relative_to(ROOT).parent.parts)
        if imported := _imported_test_modules(path.read_text(), package):
            offenders[str(path.relative_to(ROOT))] = imported
    assert offenders == {}, "import these from tests/helpers.py or use fixtures"
