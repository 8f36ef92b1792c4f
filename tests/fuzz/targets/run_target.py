"""Run one fuzz target under atheris: ``python -m tests.fuzz.targets.run_target NAME [libFuzzer flags] [corpus dirs]``.

The target's module and the parser packages it exercises are imported inside ``atheris.instrument_imports``, so
libFuzzer sees the parsers' branches and comparisons (coverage-guided) and not only the harness's. Typical flags:
``-max_total_time=20 -print_final_stats=1 -artifact_prefix=/tmp/crash- NEW_CORPUS_DIR SEED_DIR`` (libFuzzer writes
new inputs to the first directory only, so the committed seeds stay as they are).
"""

from __future__ import annotations

import importlib
import sys

import atheris

from tests.fuzz.targets import INSTRUMENT


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in INSTRUMENT:
        raise SystemExit(f"usage: run_target.py {{{','.join(INSTRUMENT)}}} [libFuzzer flags] [corpus dirs]")
    name = argv[1]
    with atheris.instrument_imports(include=INSTRUMENT[name]):
        target = importlib.import_module(f"tests.fuzz.targets.{name}")
    atheris.Setup([argv[0], *argv[2:]], target.check)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
