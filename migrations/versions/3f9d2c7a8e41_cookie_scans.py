"""cookie scans: each run of `flask cookies scan`, its whole report (the console shows the last)

Revision ID: 3f9d2c7a8e41
Revises: 5c1e7a9b3d20
Create Date: 2026-12-07 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
import privacy_center.models.types  # noqa: F401 - custom column types


# revision identifiers, used by Alembic.
revision = '3f9d2c7a8e41'
down_revision = '5c1e7a9b3d20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cookie_scan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', privacy_center.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', privacy_center.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('site_key', sa.String(length=64), nullable=False),
    sa.Column('exit_status', sa.Integer(), nullable=False),
    sa.Column('violations', sa.Integer(), nullable=False),
    sa.Column('undeclared', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cookie_scan'))
    )
    with op.batch_alter_table('cookie_scan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cookie_scan_finished_at'), ['finished_at'], unique=False)


def downgrade():
    with op.batch_alter_table('cookie_scan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cookie_scan_finished_at'))

    op.drop_table('cookie_scan')
