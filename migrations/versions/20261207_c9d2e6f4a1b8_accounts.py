"""Accounts at the scale of a province: the person's 手机, one-time passwords (generated for the
account letters, to be changed at the first login, expiring), when the password was set and the
last login.

Plain added columns with defaults: no table rebuild on the way up.  The way down drops columns,
which SQLite does by rebuilding the user table: with foreign keys off, as in b7e1c4d9a2f3.

Revision ID: c9d2e6f4a1b8
Revises: b7e1c4d9a2f3
Create Date: 2026-12-07 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c9d2e6f4a1b8'
down_revision = 'b7e1c4d9a2f3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('password_one_time', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('password_set_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_login_at', sa.DateTime(), nullable=True))


def _without_foreign_keys(change):
    """Run a table rebuild with SQLite's foreign keys off (PostgreSQL alters in place); a frozen
    copy of the helper in b7e1c4d9a2f3 (a migration never imports another)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        change()
        return
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    bind.exec_driver_sql("BEGIN IMMEDIATE")
    change()
    broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")
    bind.exec_driver_sql("BEGIN IMMEDIATE")


def _drop_columns():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('password_set_at')
        batch_op.drop_column('password_one_time')
        batch_op.drop_column('phone')


def downgrade():
    _without_foreign_keys(_drop_columns)
