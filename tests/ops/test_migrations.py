"""The schema comes only from migrations: upgrade head equals the models (CHECK constraints
included, which Alembic's compare ignores), and every migration upgrades and downgrades."""
import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import CheckConstraint, inspect

from wizard.extensions import db
from wizard.workflow.states import ROUNDS, STATES

QUOTED = re.compile(r"'((?:[^']|'')*)'")


def quoted(sql: str) -> set[str]:
    """The string literals of a CHECK constraint's SQL, however the database spells the rest
    (SQLite keeps the text as created; PostgreSQL: (state)::text = ANY (ARRAY['draft'::…]))."""
    return {value.replace("''", "'") for value in QUOTED.findall(sql)}


def checks_in_database() -> dict[tuple[str, str], str]:
    """{(table, constraint name): SQL} as the migrated database holds them (SQLite: parsed from
    sqlite_master; PostgreSQL: pg_constraint)."""
    inspector = inspect(db.engine)
    return {(table, ck["name"]): ck["sqltext"] for table in inspector.get_table_names()
            for ck in inspector.get_check_constraints(table)}


def checks_in_models() -> dict[tuple[str, str], str]:
    return {(table.name, ck.name): str(ck.sqltext) for table in db.metadata.sorted_tables
            for ck in table.constraints if isinstance(ck, CheckConstraint)}


def test_the_migrated_check_constraints_are_the_models(app):
    """A state added to the workflow table needs a migration of the CHECK constraint: without
    it, the database refuses the new state (on a real move, in production)."""
    with app.app_context():
        in_db, in_models = checks_in_database(), checks_in_models()
    assert set(in_db) == set(in_models)
    differ = {name: (sorted(quoted(in_db[name])), sorted(quoted(sql))) for name, sql in in_models.items()
              if quoted(in_db[name]) != quoted(sql)}
    assert differ == {}
    assert quoted(in_db[("submission", "ck_submission_state")]) == set(STATES)
    assert quoted(in_db[("snapshot", "ck_snapshot_round")]) == set(ROUNDS)


def test_upgrade_head_matches_models(app):
    with app.app_context():
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, db.metadata)
        assert diff == [], diff


def test_every_migration_downgrades_and_upgrades(app):
    with app.app_context():
        downgrade(revision="base")
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"user", "submission", "cluster", "region", "history_entry"} <= tables
        from wizard.ops.seed import seed_all

        seed_all()  # leave the shared PostgreSQL database as the other tests expect it
