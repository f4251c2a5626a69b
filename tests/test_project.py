"""The project definition: what pyproject.toml declares exists and runs."""

from __future__ import annotations

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
