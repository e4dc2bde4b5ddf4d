"""CHECK constraints: a submission's state is one of the workflow's states, a round one of the two.

Revision ID: d5e2b8c4a917
Revises: c3f1a7d2e5b4
Create Date: 2026-11-29 10:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd5e2b8c4a917'
down_revision = 'c3f1a7d2e5b4'
branch_labels = None
depends_on = None

# frozen copies of wizard/workflow/states.py at this revision (a migration never reads the app)
STATES = ("draft", "submitted", "county_approved", "preliminary", "eliminated", "finalist", "final_submitted",
          "final_approved", "final", "awarded", "not_awarded")
ROUNDS = ("preliminary", "final")


def _one_of(column, values):
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def upgrade():
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_check_constraint('state', _one_of('state', STATES))
    for table in ('snapshot', 'evidence_file'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_check_constraint('round', _one_of('round', ROUNDS))


def downgrade():
    for table in ('evidence_file', 'snapshot'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'ck_{table}_round'), type_='check')
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_submission_state'), type_='check')
