"""Coverage-guided fuzzing of every parser (atheris / libFuzzer) for a fixed time, and the committed corpus replayed.

Each target runs in its own process for ``VPP_FUZZ_SECONDS`` (default 12; ``make fuzz SECONDS=600`` for long runs),
two at a time. A target passes when libFuzzer reports no crash: every input either parsed or was refused with the
project's typed error carrying a code (see targets/harness.py). The figures (executions, executions/s, edges and
coverage features reached) are printed, and the run must have done real work: executions and features above a
floor, so a harness that silently stopped parsing would fail here rather than pass.

The replay test runs every committed input (seeds from the project's test telegrams, and ``regression-*`` inputs
that once crashed a parser) through each target in this process, without atheris: fast, deterministic, and it fails
if a fixed crash comes back.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from tests.fuzz.run import CORPUS, TARGETS, FuzzRun, describe_crash, fuzz_all

SECONDS = float(os.environ.get("VPP_FUZZ_SECONDS", "12"))
# floors well below what one run reaches on a loaded 2-core machine (figures in the report), far above a harness
# that refuses everything at its first line
MIN_FEATURES = {"iec62056": 150, "dsmr_p1": 250, "mbus": 250, "modbus_registers": 200, "reading_payload": 200}
MIN_EXECUTIONS = 500


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, FuzzRun]:
    work = tmp_path_factory.mktemp("fuzz")
    return {run.target: run for run in fuzz_all(list(TARGETS), SECONDS, jobs=2, keep=work)}


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_fuzzing_finds_no_crash(runs: dict[str, FuzzRun], target: str):
    run = runs[target]
    print(f"\n{run.line()}")
    assert not run.crashed, describe_crash(run)
    assert run.executions >= MIN_EXECUTIONS, run.output_tail
    assert run.features >= MIN_FEATURES[target], f"only {run.features} coverage features\n{run.output_tail}"


@pytest.mark.parametrize("target", TARGETS)
def test_committed_corpus_replays_cleanly(target: str):
    module = importlib.import_module(f"tests.fuzz.targets.{target}")
    files = sorted(Path(CORPUS / target).iterdir())
    assert any(f.name.startswith("seed-") for f in files)
    for path in files:
        module.check(path.read_bytes())  # raises on a crash, as under atheris
