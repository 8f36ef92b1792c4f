"""Run the fuzz targets for a fixed time each and summarise libFuzzer's figures.

``python -m tests.fuzz.run [--seconds N] [--jobs J] [TARGET ...]`` (``make fuzz SECONDS=N``). Each target runs in its
own process (``run_target``) on a fresh working corpus seeded from ``tests/fuzz/corpus/<target>``; a crash leaves
its input in the work folder and the exit status is 1. ``--keep DIR`` keeps the work folders (new corpus entries,
crash inputs) under DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.fuzz.targets import INSTRUMENT

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"
TARGETS = tuple(INSTRUMENT)

_STATUS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)", re.MULTILINE)
_STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.MULTILINE)


@dataclass
class FuzzRun:
    target: str
    seconds: float                 # asked for
    elapsed_s: float               # measured, process start to exit (includes instrumentation at start)
    returncode: int
    executions: int = 0
    execs_per_s: int = 0
    coverage: int = 0              # libFuzzer "cov": edges (instrumented branches) reached
    features: int = 0              # libFuzzer "ft": coverage features (edges, counters, comparisons) reached
    new_units: int = 0
    seeds: int = 0
    crash_files: list[str] = field(default_factory=list)
    crash_inputs: list[str] = field(default_factory=list)  # repr of each crash input (the folder may be gone)
    output_tail: str = ""

    @property
    def crashed(self) -> bool:
        return self.returncode != 0 or bool(self.crash_files)

    def line(self) -> str:
        verdict = "CRASH" if self.crashed else "ok"
        return (f"{self.target:17} {verdict:5} {self.executions:>9,} execs {self.execs_per_s:>6,}/s "
                f"cov {self.coverage:>5} ft {self.features:>6} new {self.new_units:>4} "
                f"in {self.elapsed_s:5.1f} s")


def parse_output(run: FuzzRun, output: str) -> None:
    statuses = _STATUS.findall(output)
    if statuses:
        executions, cov, ft = statuses[-1]
        run.executions, run.coverage, run.features = int(executions), int(cov), int(ft)
    stats = dict(_STAT.findall(output))
    run.executions = int(stats.get("number_of_executed_units", run.executions))
    run.execs_per_s = int(stats.get("average_exec_per_sec", 0))
    run.new_units = int(stats.get("new_units_added", 0))


def fuzz(target: str, seconds: float, work: Path) -> FuzzRun:
    """One target for ``seconds``; ``work`` receives the new corpus entries and any crash input."""
    seeds = CORPUS / target
    new_corpus = work / "corpus"
    new_corpus.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "chaincode")]),
           "VPP_VERIFY_WORKERS": "0", "PYTHONHASHSEED": "0"}
    command = [sys.executable, "-m", "tests.fuzz.targets.run_target", target,
               f"-max_total_time={int(seconds)}", "-print_final_stats=1", "-timeout=10", "-rss_limit_mb=1024",
               "-max_len=8192", f"-artifact_prefix={work}/"]
    dictionary = HERE / "dictionaries" / f"{target}.dict"
    if dictionary.exists():
        command.append(f"-dict={dictionary}")
    command += [str(new_corpus), str(seeds)]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, errors="replace",
                            timeout=seconds + 120)
    run = FuzzRun(target, seconds, round(time.monotonic() - started, 1), result.returncode,
                  seeds=len(list(seeds.iterdir())))
    output = result.stdout + result.stderr
    parse_output(run, output)
    run.crash_files = sorted(str(p) for p in work.glob("*") if p.name.split("-")[0] in ("crash", "timeout", "oom",
                                                                                         "leak"))
    run.crash_inputs = [repr(Path(path).read_bytes()[:2000]) for path in run.crash_files]
    start = output.find("=== Uncaught Python exception")  # the traceback, before libFuzzer's progress lines
    run.output_tail = output[start: start + 6000] if start >= 0 else output[-6000:]
    return run


def describe_crash(run: FuzzRun) -> str:
    parts = [f"{run.target}: exit {run.returncode}"]
    for path, data in zip(run.crash_files, run.crash_inputs, strict=True):
        parts.append(f"input {path}: {data}")
    output = run.output_tail
    start = output.find("=== Uncaught Python exception")
    parts.append(output[start: start + 4000] if start >= 0 else output[-4000:])
    return "\n".join(parts)


def fuzz_all(targets: list[str], seconds: float, jobs: int, keep: Path | None = None) -> list[FuzzRun]:
    base = Path(tempfile.mkdtemp(prefix="vpp-fuzz-")) if keep is None else keep
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(lambda t: fuzz(t, seconds, base / t), targets))
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help=f"some of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("VPP_FUZZ_SECONDS", 60)))
    parser.add_argument("--jobs", type=int, default=1, help="targets fuzzed at the same time")
    parser.add_argument("--keep", type=Path, help="keep work folders (new corpus, crash inputs) here")
    parser.add_argument("--json", action="store_true", help="print one JSON object per target")
    args = parser.parse_args()
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; known: {', '.join(TARGETS)}")
    runs = fuzz_all(list(args.targets) or list(TARGETS), args.seconds, args.jobs, args.keep)
    for run in runs:
        if args.json:
            print(json.dumps({k: v for k, v in asdict(run).items() if k != "output_tail"}))
        else:
            print(run.line())
        if run.crashed:
            print(describe_crash(run), file=sys.stderr)
    sys.exit(1 if any(run.crashed for run in runs) else 0)


if __name__ == "__main__":
    main()
