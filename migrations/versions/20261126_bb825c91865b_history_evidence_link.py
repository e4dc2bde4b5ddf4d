"""Link a history row to the file that came with the move (signed declaration, sealed opinion).

Revision ID: bb825c91865b
Revises: a4d5898ac9f9
Create Date: 2026-11-26 07:08:20.791333

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'bb825c91865b'
down_revision = 'a4d5898ac9f9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('history_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_history_entry_evidence_id_evidence_file'), 'evidence_file', ['evidence_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('history_entry', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_history_entry_evidence_id_evidence_file'), type_='foreignkey')
        batch_op.drop_column('evidence_id')

