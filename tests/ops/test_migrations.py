"""The schema comes only from migrations: upgrade head equals the models, and every
migration upgrades and downgrades."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from wizard.extensions import db


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
