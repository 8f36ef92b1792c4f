"""No float anywhere in the contract's state, arguments or decisions: checked on the source itself."""

import ast
from pathlib import Path

import pytest

CONTRACT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for p in CONTRACT.rglob("*.py") if "tests" not in p.parts and "validation" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(CONTRACT)))
def test_contract_source_has_no_float_arithmetic(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    offences = []
    for node in ast.walk(tree):
        problem = None
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            problem = f"float literal {node.value!r}"
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.Div):
            problem = "true division '/' (use // on integers)"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("float", "round"):
            problem = f"call to {node.func.id}()"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if any(n in ("math", "random", "time", "datetime") for n in names):
                problem = f"import of {', '.join(names)} (floats, randomness or the wall clock)"
        if problem:
            offences.append(f"line {node.lineno}: {problem}")
    assert offences == []


def test_the_check_sees_every_module():
    names = {p.name for p in SOURCES}
    assert {"contract.py", "ledger.py", "readings.py", "tokens.py"} <= names
