"""The structure is a contract: the layers of .importlinter, no import cycle, no import hidden
in a function (but the app factory's), no private name imported across modules, and short
functions.  docs/architecture.md explains each rule."""
import ast
import os
import pathlib
import subprocess
import sys

import grimp

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "wizard"
MAX_FUNCTION_LINES = 60
#: functions allowed to import inside their body, with the reason (docs/architecture.md)
IMPORTS_INSIDE = {
    ("wizard/__init__.py", "create_app"): "importing wizard.models (CLI, migrations) must not load every blueprint",
    ("wizard/pdf/inline.py", "engine"): "a page worker loads the PDF engine only when it renders the account "
                                        "letters, which are never stored (issue #22, 8)",
}


def sources():
    return sorted(PACKAGE.rglob("*.py"))


def test_import_linter_contracts_are_kept():
    lint = pathlib.Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def strongly_connected(graph):
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_takes_part_in_an_import_cycle():
    assert strongly_connected(grimp.build_graph("wizard")) == []


def test_no_import_is_hidden_inside_a_function():
    hidden = []
    for path in sources():
        rel = path.relative_to(ROOT).as_posix()
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and (rel, fn.name) not in IMPORTS_INSIDE:
                hidden += [f"{rel}:{n.lineno} in {fn.name}" for n in ast.walk(fn)
                           if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert hidden == []


def test_no_private_name_is_imported_from_another_module():
    private = []
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("wizard")):
                private += [f"{path.relative_to(ROOT)}:{node.lineno} {a.name}" for a in node.names
                            if a.name.startswith("_") and not a.name.startswith("__")]
    assert private == []


def test_every_function_is_shorter_than_sixty_lines():
    long = []
    for path in sources():
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = fn.end_lineno - fn.lineno + 1
                if length >= MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name}: {length} lines")
    assert long == []
