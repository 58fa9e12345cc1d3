"""sites that embed the consent widget

Revision ID: dc461641740e
Revises: 
Create Date: 2026-11-24 13:44:05.711617

"""
import sqlalchemy as sa
from alembic import op

import privacy_center.models.types


# revision identifiers, used by Alembic.
revision = 'dc461641740e'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('origins', sa.JSON(), nullable=False),
    sa.Column('created_at', privacy_center.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', privacy_center.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site')),
    sa.UniqueConstraint('key', name=op.f('uq_site_key'))
    )


def downgrade():
    op.drop_table('site')
