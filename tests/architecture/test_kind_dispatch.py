"""One dispatch per concept: the field kinds (report/kinds.py) are the only place that knows what
a kind is.  Every other module of wizard/ and every template asks the kind (``field.kind_of``: its
attributes and methods) and never tests its name or the class of the form field it builds
(docs/architecture.md, "Where each concern lives").

What counts as asking by name (outside report/kinds.py):
- Python: a comparison of something called ``kind`` (``field.kind``, ``kind``, ``kind_of.name``)
  with a kind's name (a literal, a tuple of literals, or a module constant holding one);
  ``KINDS["phone"]``; ``isinstance``/``issubclass``/``type(...) is`` against a kind class or a class
  of the form fields the kinds build (StringField, TextAreaField, FormField, FieldList, NumberInput…);
- Jinja: ``field.kind == 'phone'``, ``kind in ('text', 'phone')``, ``selectattr('kind', 'equalto',
  'phone')``, ``field.kind is equalto 'phone'``.
Column kinds (a table column's text | number | level) are not field kinds and are not checked.

Also here: the Excel template's layout that each kind declares agrees with the form field it builds,
so exports/template.py offers exactly what the web form does without looking at the form's classes.
"""
import ast
import inspect
import pathlib

import jinja2
import pytest
from jinja2 import nodes
from wtforms import BooleanField, Field, FieldList, FormField, StringField, TextAreaField

import wizard.report.kinds as kinds_module
from wizard.report.definition import get_report
from wizard.report.kinds import GRID, LINE, NARRATIVE, SINGLE, TABLE, TICK, Kind
from wizard.report.model import KINDS, ROUNDS

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE, TEMPLATES = ROOT / "wizard", ROOT / "templates"
THE_KINDS = PACKAGE / "report" / "kinds.py"
YEARS = {"y1": 2021, "y2": 2022, "t1": 2024, "t2": 2025, "t3": 2026}
#: modules that may test WTForms classes, with the reason: they treat every field of every form
#: alike (the app's own login and account forms as much as the report's), not by kind
GENERIC_FORM_CODE = {
    "wizard/web/forms.py": "AppForm cleans every text field of every form, by its WTForms type",
}
KIND_NAMES = frozenset(KINDS)


def all_fields():
    for round_ in ROUNDS:
        yield from get_report(round_).fields


def built_classes() -> frozenset:
    """The names of the form-field classes the kinds build (and their WTForms bases below Field):
    the fields, a grid row's numbers, a table's rows and cells."""
    found = set()

    def add(cls):
        found.update(c.__name__ for c in cls.__mro__ if issubclass(c, Field) and c is not Field)

    def walk(unbound):
        add(unbound.field_class)
        for arg in unbound.args:
            if inspect.isclass(arg):  # FormField(the row form class)
                for sub in vars(arg).values():
                    if hasattr(sub, "field_class"):
                        walk(sub)
            elif hasattr(arg, "field_class"):  # FieldList(FormField(...))
                walk(arg)

    for f in all_fields():
        unbound = f.kind_of.build(f, YEARS)
        if unbound is not None:
            walk(unbound)
    return frozenset(found)


FORM_CLASSES = built_classes()
KIND_CLASSES = frozenset(c.__name__ for c in vars(kinds_module).values()
                         if inspect.isclass(c) and issubclass(c, Kind))


# --- Python -------------------------------------------------------------------------------------

def module_constants(tree) -> dict:
    """NAME = "text" at module level: what a Name in a comparison stands for."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            out.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Tuple):
            for t, v in zip(node.targets[0].elts, node.value.elts):
                if isinstance(t, ast.Name) and isinstance(v, ast.Constant) and isinstance(v.value, str):
                    out[t.id] = v.value
    return out


def names_a_kind(node) -> bool:
    """``kind``, ``x.kind``, ``x.kind_of.name``: an expression that is a field's kind name."""
    if isinstance(node, ast.Name):
        return node.id == "kind"
    if isinstance(node, ast.Attribute):
        return node.attr == "kind" or (node.attr == "name" and isinstance(node.value, ast.Attribute)
                                       and node.value.attr == "kind_of")
    return False


def kind_literals(node, constants) -> set:
    """The kind names an expression spells: a literal, a module constant, a tuple/list/set of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value} & KIND_NAMES
    if isinstance(node, ast.Name):
        return {constants.get(node.id)} & KIND_NAMES
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*(kind_literals(e, constants) for e in node.elts)) if node.elts else set()
    return set()


def class_names(node) -> set:
    """The class names a second argument of isinstance names (a name, an attribute, a tuple)."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    if isinstance(node, ast.Tuple):
        return set().union(*(class_names(e) for e in node.elts)) if node.elts else set()
    return set()


def python_findings(path: pathlib.Path, source: str, generic_forms=False) -> list[str]:
    tree = ast.parse(source)
    constants = module_constants(tree)
    forbidden = KIND_CLASSES | (set() if generic_forms else FORM_CLASSES)
    out = []
    for node in ast.walk(tree):
        where = f"{path}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for left, right in zip(operands, operands[1:]):
                for a, b in ((left, right), (right, left)):
                    if names_a_kind(a) and kind_literals(b, constants):
                        out.append(f"{where}: compares a kind name: {ast.unparse(node)}")
                    if isinstance(a, ast.Call) and isinstance(a.func, ast.Name) and a.func.id == "type" \
                            and class_names(b) & forbidden:
                        out.append(f"{where}: tests a kind's form class: {ast.unparse(node)}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("isinstance", "issubclass") and len(node.args) == 2:
            if class_names(node.args[1]) & forbidden:
                out.append(f"{where}: tests a kind's form class: {ast.unparse(node)}")
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "KINDS" \
                and kind_literals(node.slice, constants):
            out.append(f"{where}: asks a kind by name: {ast.unparse(node)}")
    return sorted(set(out))


def test_no_module_but_kinds_py_asks_a_fields_kind_by_name_or_form_class():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == THE_KINDS:
            continue
        rel = str(path.relative_to(ROOT))
        found += python_findings(path.relative_to(ROOT), path.read_text(encoding="utf-8"),
                                 generic_forms=rel in GENERIC_FORM_CODE)
    assert found == [], "ask the kind (report/kinds.py), not its name:\n" + "\n".join(found)


# --- Jinja --------------------------------------------------------------------------------------

def jinja_names_a_kind(node) -> bool:
    if isinstance(node, nodes.Name):
        return node.name == "kind"
    if isinstance(node, nodes.Getattr):
        return node.attr == "kind" or (node.attr == "name" and isinstance(node.node, nodes.Getattr)
                                       and node.node.attr == "kind_of")
    return False


def jinja_kind_literals(node) -> set:
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return {node.value} & KIND_NAMES
    if isinstance(node, (nodes.Tuple, nodes.List)):
        return set().union(*(jinja_kind_literals(e) for e in node.items)) if node.items else set()
    return set()


def template_findings(name: str, source: str) -> list[str]:
    tree = jinja2.Environment().parse(source)
    out = []
    for node in tree.find_all((nodes.Compare, nodes.Filter, nodes.Test)):
        where = f"templates/{name}:{node.lineno}"
        if isinstance(node, nodes.Compare):
            operands = [node.expr, *(op.expr for op in node.ops)]
            for left, right in zip(operands, operands[1:]):
                if (jinja_names_a_kind(left) and jinja_kind_literals(right)) or \
                        (jinja_names_a_kind(right) and jinja_kind_literals(left)):
                    out.append(f"{where}: compares a kind name")
        elif isinstance(node, nodes.Filter) and node.name in ("selectattr", "rejectattr"):
            args = node.args
            if len(args) >= 3 and isinstance(args[0], nodes.Const) and args[0].value in ("kind", "kind_of.name") \
                    and jinja_kind_literals(args[2]):
                out.append(f"{where}: {node.name} on a kind name")
        elif isinstance(node, nodes.Test) and node.name in ("equalto", "eq", "==", "ne", "!=", "in", "sameas") \
                and jinja_names_a_kind(node.node) and any(jinja_kind_literals(a) for a in node.args):
            out.append(f"{where}: tests a kind name")
    return out


def test_no_template_tests_a_fields_kind_by_name():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = str(path.relative_to(TEMPLATES))
        found += template_findings(name, path.read_text(encoding="utf-8"))
    assert found == [], "ask the kind (field.kind_of), not its name:\n" + "\n".join(found)


# --- the checks themselves find what they are meant to find -------------------------------------

@pytest.mark.parametrize("source", [
    'if field.kind == "phone": pass',
    'x = f.kind != "evidence" or f.key == "org_documents"',
    'PHONE = "phone"\nok = kind == PHONE',
    'ok = f.kind in ("text", "phone")',
    'ok = field.kind_of.name == "table"',
    'k = KINDS["opinion"]',
    'from wtforms import TextAreaField\nok = issubclass(cls, TextAreaField)',
    'ok = isinstance(x, (FormField, FieldList))',
    'ok = isinstance(sub, NumberInput)',
    'ok = type(x) is BooleanField',
    'ok = isinstance(kind, PhoneKind)',
])
def test_the_python_check_finds_a_kind_asked_by_name(source):
    assert python_findings(pathlib.Path("wizard/example.py"), source)


@pytest.mark.parametrize("source", [
    'ok = move.kind == SUBMIT',                      # a move's kind, not a field's
    'ok = row.kind == "pdf"',                        # a file's kind
    'ok = col.kind == "number"',                     # a table column's kind
    'ok = field.kind_of.uploads',
    'ok = isinstance(value, dict)',
])
def test_the_python_check_leaves_other_kinds_alone(source):
    assert python_findings(pathlib.Path("wizard/example.py"), source) == []


@pytest.mark.parametrize("source", [
    "{% if field.kind == 'phone' %}x{% endif %}",
    "{% if 'phone' != f.kind %}x{% endif %}",
    "{{ fields|rejectattr('kind', 'equalto', 'phone')|list|length }}",
    "{% if field.kind in ('text', 'phone') %}x{% endif %}",
    "{% if field.kind is equalto 'agree' %}x{% endif %}",
])
def test_the_template_check_finds_a_kind_asked_by_name(source):
    assert template_findings("example.html", source)


@pytest.mark.parametrize("source", [
    "{% if col.kind == 'number' %}x{% endif %}",
    "{% if piece.kind == 'del' %}x{% endif %}",
    "{{ fields|rejectattr('kind_of.shares_row')|list|length }}",
])
def test_the_template_check_leaves_other_kinds_alone(source):
    assert template_findings("example.html", source) == []


# --- the Excel template's layout, as each kind declares it, is the form's --------------------------

def expected_layout(unbound):
    """What the form field a kind builds calls for in the Excel template."""
    if unbound is None:
        return None, None
    cls = unbound.field_class
    if issubclass(cls, FieldList):
        return TABLE, None
    if issubclass(cls, FormField):
        return GRID, None
    if issubclass(cls, BooleanField):
        return SINGLE, TICK
    if issubclass(cls, TextAreaField):
        return SINGLE, NARRATIVE
    assert issubclass(cls, StringField), cls
    return SINGLE, LINE


@pytest.mark.parametrize("field", [f for f in {f.key: f for f in all_fields()}.values()], ids=lambda f: f.key)
def test_each_kind_lays_its_field_out_in_the_excel_template_as_its_form_field_asks(field):
    kind = field.kind_of
    layout, cell = expected_layout(kind.build(field, YEARS))
    assert kind.template_layout == layout
    if layout == SINGLE:
        assert kind.template_input == cell
