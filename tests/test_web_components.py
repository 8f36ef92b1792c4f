"""The web app's component tests (vitest: API client, money and energy formatting, chart shaping), run as part of
the one test command."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[1] / "web"


def test_vitest_component_tests_pass(tmp_path):
    if not (WEB / "node_modules" / ".bin" / "vitest").exists():
        pytest.skip("web/node_modules is missing: run make setup")
    node = shutil.which("node")
    assert node, "node is missing: run make setup"
    report = tmp_path / "vitest.json"
    result = subprocess.run([str(WEB / "node_modules" / ".bin" / "vitest"), "run", "--reporter=json",
                             f"--outputFile={report}"], cwd=WEB, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(report.read_text())
    assert summary["numFailedTests"] == 0 and summary["numPassedTests"] >= 20, summary["numPassedTests"]
