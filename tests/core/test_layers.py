"""The allowed imports (pyproject.toml, [tool.importlinter]) are enforced: `make lint`
runs lint-imports, which passes on the tree and fails on a planted forbidden import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["pam_protocol", "pam_service", "pam_loadtest", "blender", "supervisor_api",
            "dispatcher_rs", "bench", "tests"]
LINT = Path(sys.executable).with_name("lint-imports")


def copy_tree(dest: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", dest)
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, dest / pkg,
                        ignore=shutil.ignore_patterns("*.so", "__pycache__", "*.md", "*.png",
                                                      "*.json", "static"))


def lint(where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-cache"], cwd=where, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(where)})


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("blender/planted.py", "import pam_service.store", "clients speak only the protocol"),
    ("pam_service/domain/planted.py", "import redis", "The domain is pure"),
    ("pam_protocol/planted.py", "from pam_service import worker", "protocol package stands"),
    ("bench/planted.py", "import tests.core.sim", "Benchmarks do not import the tests"),
])
def test_lint_fails_on_a_planted_forbidden_import(
        tmp_path: Path, module: str, line: str, contract: str) -> None:
    copy_tree(tmp_path)
    assert lint(tmp_path).returncode == 0  # the tree as it is keeps every contract
    (tmp_path / module).write_text(line + "\n")
    r = lint(tmp_path)
    assert r.returncode == 1 and contract in r.stdout and "BROKEN" in r.stdout, r.stdout
