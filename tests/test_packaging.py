"""A non-editable install must carry every subpackage: build the wheel and import every module from it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"dramafactory": "dramafactory", "agents": "dramafactory/agents", "graphs": "dramafactory/graphs",
           "tools": "dramafactory/tools", "memory": "dramafactory/memory", "api": "dramafactory/api",
           "evals": "dramafactory/evals"}


def source_modules() -> set[str]:
    modules = set()
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            relative = path.relative_to(ROOT / folder).with_suffix("")
            modules.add(".".join([*package.split("/"), *relative.parts]).removesuffix(".__init__"))
    return modules


@pytest.mark.slow
def test_wheel_holds_and_imports_every_module(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path),
                    str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("dramafactory-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "site")
    in_wheel = {n.removesuffix(".py").replace("/", ".").removesuffix(".__init__") for n in names if n.endswith(".py")}
    missing = source_modules() - in_wheel
    assert not missing, f"modules missing from the wheel: {sorted(missing)}"
    assert "dramafactory/evals/golden/concepts.yaml" in names, "the eval golden set must ship in the wheel"
    assert "dramafactory/tools/presets.yaml" in names, "the GPU presets must ship in the wheel"
    for page in (ROOT / "api" / "static").iterdir():  # the service's web pages
        assert f"dramafactory/api/static/{page.name}" in names, f"api/static/{page.name} must ship in the wheel"
    # Import every module from the extracted wheel (not from the source tree) in a clean interpreter.
    script = ("import importlib, sys; sys.path.insert(0, sys.argv[1]); "
              "[importlib.import_module(m) for m in sys.argv[2:]]; "
              "import dramafactory; assert dramafactory.__file__.startswith(sys.argv[1]), dramafactory.__file__")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "site"), *sorted(source_modules())],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
