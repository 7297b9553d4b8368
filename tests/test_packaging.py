"""What ships: the wheel and the Docker image carry the product (`gateway/`, `signing/`) and
nothing else; the benchmark and the tests stay in the repository."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

PRODUCT = {"gateway", "signing"}


@pytest.mark.timeout(300)
def test_the_wheel_carries_only_gateway_and_signing(tmp_path: Path) -> None:
    # Built from a copy so the build's own droppings (build/, *.egg-info) stay out of the tree;
    # the copy holds bench/ and tests/ too, so that leaving them out is what is tested.
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("gateway", "signing", "bench", "tests"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    assert (source / "bench" / "__main__.py").exists()
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source), "-w", tmp_path],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top_level == PRODUCT
    assert "gateway/__main__.py" in names
    assert "signing/telnyx.py" in names
    static = ROOT / "gateway" / "console" / "static"
    for path in static.iterdir():  # the console's page, stylesheet and scripts
        assert f"gateway/console/static/{path.name}" in names
    data = [ROOT / "gateway" / "reference" / "reference.css"]
    data += (ROOT / "gateway" / "inbound" / "examples").iterdir()
    for path in data:  # the reference page's stylesheet, the webhook examples
        assert path.relative_to(ROOT).as_posix() in names


def test_the_docker_image_copies_only_gateway_and_signing() -> None:
    copy_lines = re.findall(r"^COPY (.+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    sources = {Path(source).parts[0] for line in copy_lines for source in line.split()[:-1]}
    assert sources == PRODUCT | {"pyproject.toml", "README.md", "config"}
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {"bench", "tests"} <= ignored
