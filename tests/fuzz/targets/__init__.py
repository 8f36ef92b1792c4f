"""Coverage-guided fuzz targets (atheris / libFuzzer), one module per parser; ``run_target`` is the entry point.

``INSTRUMENT``: per target, the packages whose code it drives. Instrumenting them is what makes the fuzzing
coverage-guided; this table lives here so that importing it does not import atheris.
"""

INSTRUMENT = {
    "iec62056": ["vpp_edge", "tests.fuzz.targets"],
    "dsmr_p1": ["vpp_edge", "dsmr_parser", "tests.fuzz.targets"],
    "mbus": ["vpp_edge", "tests.fuzz.targets"],
    "modbus_registers": ["vpp_edge", "tests.fuzz.targets"],
    "reading_payload": ["vpp_contract", "fabric_ccaas", "tests.fuzz.targets"],
}
