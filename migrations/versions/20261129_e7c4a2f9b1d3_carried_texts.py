"""Mark the final-round texts still as pre-filled from the preliminary report (附件2 asks them anew).

Existing rows: only finalists who have never submitted the final report, and only texts still
identical to the preliminary ones, are marked.  They are the reports this rule protects: their
texts answer 附件1's questions and nobody has looked at them for 附件2 yet.  A final report
submitted once was read by its applicant and its county; marking it now would block a report
already under review.

Revision ID: e7c4a2f9b1d3
Revises: d5e2b8c4a917
Create Date: 2026-11-29 13:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7c4a2f9b1d3'
down_revision = 'd5e2b8c4a917'
branch_labels = None
depends_on = None

# frozen copy of what wizard/report/service.py derives from the definition at this revision
ASKED_ANEW = ("self_assessment", "park_assessment", "org_operation")

submission = sa.table("submission", sa.column("id", sa.Integer), sa.column("state", sa.String),
                      sa.column("preliminary_answers", sa.JSON), sa.column("final_answers", sa.JSON),
                      sa.column("carried_texts", sa.JSON))
snapshot = sa.table("snapshot", sa.column("submission_id", sa.Integer), sa.column("round", sa.String))


def _still_carried(preliminary, final):
    preliminary, final = preliminary or {}, final or {}
    return [k for k in ASKED_ANEW
            if isinstance(final.get(k), str) and final[k].strip() and final[k] == preliminary.get(k)]


def upgrade():
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('carried_texts', sa.JSON(), nullable=True))
    conn = op.get_bind()
    submitted = sa.select(snapshot.c.submission_id).where(snapshot.c.round == "final")
    rows = conn.execute(sa.select(submission.c.id, submission.c.preliminary_answers, submission.c.final_answers)
                        .where(submission.c.state == "finalist", submission.c.id.not_in(submitted))).all()
    for sid, preliminary, final in rows:
        keys = _still_carried(preliminary, final)
        if keys:
            conn.execute(submission.update().where(submission.c.id == sid).values(carried_texts=keys))


def downgrade():
    # a plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 has it): a batch copy of the table would
    # have to drop a table that history, snapshot and evidence rows refer to
    op.drop_column('submission', 'carried_texts')
