"""The workflow table: every state has its own readable badge, and the database refuses a state
or round the table does not know."""
import ast
import re
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from factories import ALLOY, submission_of
from wizard.extensions import db
from wizard.workflow.states import MOVES, STATES, round_of, states_waiting_for, submit_move

CSS = (__import__("pathlib").Path(__file__).resolve().parents[2] / "static" / "css" / "app.css").read_text()


def declarations(selector):
    m = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert m, f"no CSS rule for {selector}"
    return dict((k.strip(), v.strip()) for k, v in (d.split(":", 1) for d in m.group(1).split(";") if ":" in d))


def luminance(hex_colour):
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a, b):
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_every_state_has_a_distinct_badge_with_readable_contrast():
    looks = {}
    for key, state in STATES.items():
        rule = declarations("." + state.badge)
        colour, background = rule["color"], rule["background"]
        assert contrast(colour, background) >= 4.5, (key, colour, background)
        looks[key] = (colour, background, rule.get("border", ""))
    assert len(set(looks.values())) == len(STATES), "two states look alike"


def test_the_badge_comes_from_the_state_table_not_a_rule_per_state():
    """A new state is a row of the table (its tone included), not a CSS rule written for it."""
    per_state = [key for key in STATES if re.search(r"\.state-" + re.escape(key) + r"\b", CSS)]
    assert per_state == []


def test_badges_on_pages_come_from_the_state(app, client, auth, people):
    auth.login("admin")
    html = client.get("/admin/submissions").get_data(as_text=True)
    assert f'class="state-badge {STATES["draft"].badge}"' in html


def test_the_round_of_every_state_and_the_submit_move_of_every_round():
    assert [k for k in STATES if round_of(k) == "preliminary"] == [
        "draft", "submitted", "county_approved", "preliminary", "eliminated"]
    assert submit_move("preliminary").key == "submit" and submit_move("final").key == "submit_final"
    assert states_waiting_for("county") == ("submitted", "final_submitted")
    assert all(m.source in STATES and m.target in STATES for m in MOVES)


ROUND_NAMES = re.compile(r"(PRELIMINARY|FINAL|ROUNDS?|ROUND_LABELS|\w+_ROUND)")


def assigned_names(node):
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    for target in targets:
        yield from (n.id for n in ast.walk(target) if isinstance(n, ast.Name))


def test_the_rounds_are_defined_once():
    """The workflow table names the rounds; no other module assigns a name of its own to one
    (report/model.py's sets of rounds are BOTH, PRELIMINARY_ONLY, FINAL_ONLY)."""
    package = Path(__file__).resolve().parents[2] / "wizard"
    again = []
    for path in package.rglob("*.py"):
        if path == package / "workflow" / "states.py":
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                again += [f"{path.relative_to(package)}:{node.lineno} {name}" for name in assigned_names(node)
                          if ROUND_NAMES.fullmatch(name)]
    assert again == []


@pytest.mark.parametrize("sql", [
    "UPDATE submission SET state = 'approved_by_mistake' WHERE id = :id",
    "INSERT INTO snapshot (submission_id, round, answers, evidence, digest) VALUES (:id, 'semifinal', '{}', '[]', 'x')",
])
def test_the_database_refuses_unknown_states_and_rounds(app, people, sql):
    with app.app_context():
        sid = submission_of(ALLOY).id
        with pytest.raises(IntegrityError):
            db.session.execute(text(sql), {"id": sid})
            db.session.flush()
        db.session.rollback()
