"""Expert review (专家评审): the expert role and its profile (工作单位, 擅长类别; 所在市州 is region_id),
the 评分细则 per edition and round, assignments with their scores, and frozen rankings that a
history entry can point to.

SQLite cannot change a CHECK constraint in place: the user table is rebuilt (Alembic's batch
mode).  Other tables refer to it, so the rebuild runs with foreign keys off (a pragma that only
takes effect outside a transaction) and the foreign keys are checked once it is done.

Revision ID: b7e1c4d9a2f3
Revises: a8d3f6b2c1e9
Create Date: 2026-12-07 05:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e1c4d9a2f3'
down_revision = 'a8d3f6b2c1e9'
branch_labels = None
depends_on = None

# frozen copies of wizard/roles.py and wizard/models.py at this revision (a migration never reads the app)
OLD_ROLES = ("applicant", "county", "admin")
ROLES = OLD_ROLES + ("expert",)
EXPERT_CATEGORIES = ("advanced", "sme", "both")
OLD_BINDING = "(role != 'applicant' OR cluster_id IS NOT NULL) AND (role != 'county' OR region_id IS NOT NULL)"
BINDING = (OLD_BINDING + " AND (role != 'expert' OR (region_id IS NOT NULL AND expert_categories IS NOT NULL))")
ROUNDS = ("preliminary", "final")


def _one_of(column, values):
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def _without_foreign_keys(change):
    """Run a table rebuild with SQLite's foreign keys off (PostgreSQL alters in place)."""
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


def _user_columns_and_checks():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('employer', sa.String(length=128), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('expert_categories', sa.String(length=16), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_user_role'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_user_binding'), type_='check')
        batch_op.create_check_constraint('role', _one_of('role', ROLES))
        batch_op.create_check_constraint('binding', BINDING)
        batch_op.create_check_constraint(
            'expert_categories', "expert_categories IS NULL OR " + _one_of('expert_categories', EXPERT_CATEGORIES))


def _user_back():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_user_expert_categories'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_user_binding'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_user_role'), type_='check')
        batch_op.create_check_constraint('role', _one_of('role', OLD_ROLES))
        batch_op.create_check_constraint('binding', OLD_BINDING)
        batch_op.drop_column('expert_categories')
        batch_op.drop_column('employer')


def upgrade():
    _without_foreign_keys(_user_columns_and_checks)
    op.create_table(
        'review_scheme',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('edition_id', sa.Integer(), nullable=False),
        sa.Column('round', sa.String(length=16), nullable=False),
        sa.Column('dimensions', sa.JSON(), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('panel_size', sa.Integer(), nullable=False),
        sa.Column('deadline', sa.DateTime(), nullable=True),
        sa.Column('frozen_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(_one_of('round', ROUNDS), name=op.f('ck_review_scheme_round')),
        sa.CheckConstraint("method in ('trimmed', 'mean')", name=op.f('ck_review_scheme_method')),
        sa.CheckConstraint('panel_size >= 1', name=op.f('ck_review_scheme_panel_size')),
        sa.ForeignKeyConstraint(['edition_id'], ['edition.id'], name=op.f('fk_review_scheme_edition_id_edition')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_review_scheme')),
        sa.UniqueConstraint('edition_id', 'round', name='review_scheme_round'),
    )
    op.create_table(
        'review_assignment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('submission_id', sa.Integer(), nullable=False),
        sa.Column('expert_id', sa.Integer(), nullable=False),
        sa.Column('round', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('scores', sa.JSON(), nullable=False),
        sa.Column('comments', sa.JSON(), nullable=False),
        sa.Column('overall', sa.Text(), nullable=False),
        sa.Column('total', sa.Float(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('saved_at', sa.DateTime(), nullable=True),
        sa.Column('submitted_at', sa.DateTime(), nullable=True),
        sa.Column('assigned_at', sa.DateTime(), nullable=False),
        sa.Column('assigned_by_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint(_one_of('round', ROUNDS), name=op.f('ck_review_assignment_round')),
        sa.CheckConstraint("status in ('active', 'conflict', 'withdrawn')", name=op.f('ck_review_assignment_status')),
        sa.ForeignKeyConstraint(['assigned_by_id'], ['user.id'],
                                name=op.f('fk_review_assignment_assigned_by_id_user')),
        sa.ForeignKeyConstraint(['expert_id'], ['user.id'], name=op.f('fk_review_assignment_expert_id_user')),
        sa.ForeignKeyConstraint(['submission_id'], ['submission.id'],
                                name=op.f('fk_review_assignment_submission_id_submission')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_review_assignment')),
        sa.UniqueConstraint('submission_id', 'expert_id', 'round', name='assignment_once'),
    )
    op.create_index('ix_review_assignment_expert_id', 'review_assignment', ['expert_id'])
    op.create_index('ix_review_assignment_submission_id', 'review_assignment', ['submission_id'])
    op.create_index('ix_review_assignment_round_status', 'review_assignment', ['round', 'status'])
    op.create_table(
        'ranking_snapshot',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('edition_id', sa.Integer(), nullable=False),
        sa.Column('round', sa.String(length=16), nullable=False),
        sa.Column('category', sa.String(length=16), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint(_one_of('round', ROUNDS), name=op.f('ck_ranking_snapshot_round')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_ranking_snapshot_created_by_id_user')),
        sa.ForeignKeyConstraint(['edition_id'], ['edition.id'], name=op.f('fk_ranking_snapshot_edition_id_edition')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ranking_snapshot')),
    )
    op.create_index('ix_ranking_snapshot_digest', 'ranking_snapshot', ['digest'])
    with op.batch_alter_table('history_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ranking_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_history_entry_ranking_id_ranking_snapshot'), 'ranking_snapshot',
                                    ['ranking_id'], ['id'])


def downgrade():
    with op.batch_alter_table('history_entry', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_history_entry_ranking_id_ranking_snapshot'), type_='foreignkey')
        batch_op.drop_column('ranking_id')
    op.drop_index('ix_ranking_snapshot_digest', table_name='ranking_snapshot')
    op.drop_table('ranking_snapshot')
    op.drop_index('ix_review_assignment_round_status', table_name='review_assignment')
    op.drop_index('ix_review_assignment_submission_id', table_name='review_assignment')
    op.drop_index('ix_review_assignment_expert_id', table_name='review_assignment')
    op.drop_table('review_assignment')
    op.drop_table('review_scheme')
    _without_foreign_keys(_user_back)
