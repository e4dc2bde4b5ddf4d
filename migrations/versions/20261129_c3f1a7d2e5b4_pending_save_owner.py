"""Bind a pending save (input posted after the login expired) to the account whose login expired.

Rows stored before this revision have no owner and could have been planted by another site
(issue #11, finding 1): they are deleted, not carried over.

Revision ID: c3f1a7d2e5b4
Revises: bb825c91865b
Create Date: 2026-11-29 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3f1a7d2e5b4'
down_revision = 'bb825c91865b'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("DELETE FROM pending_save")
    with op.batch_alter_table('pending_save', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_pending_save_user_id'), ['user_id'])
        batch_op.create_foreign_key(batch_op.f('fk_pending_save_user_id_user'), 'user', ['user_id'], ['id'],
                                    ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('pending_save', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_pending_save_user_id_user'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_pending_save_user_id'), type_='unique')
        batch_op.drop_column('user_id')
