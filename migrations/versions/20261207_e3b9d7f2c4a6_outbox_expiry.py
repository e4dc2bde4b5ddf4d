"""The outbox's mail that carries a secret (a password-reset link) expires with it: never sent
after ``expires_at``, and its row deleted then.

A plain nullable column: no table rebuild on the way up.

Revision ID: e3b9d7f2c4a6
Revises: d4f8a1c6e2b9
Create Date: 2026-12-07 11:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e3b9d7f2c4a6'
down_revision = 'd4f8a1c6e2b9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
