"""consent receipts

Revision ID: f58f0f7821ac
Revises: dc461641740e
Create Date: 2026-11-24 14:10:58.867624

"""
from alembic import op  # noqa: I001
import sqlalchemy as sa
import privacy_center.models.types  # noqa: F401 - custom column types


# revision identifiers, used by Alembic.
revision = 'f58f0f7821ac'
down_revision = 'dc461641740e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('consent_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('receipt_id', sa.String(length=36), nullable=False),
    sa.Column('visitor_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', privacy_center.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('policy_version', sa.SmallInteger(), nullable=False),
    sa.Column('widget_build', sa.String(length=64), nullable=False),
    sa.Column('texts_hash', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('gpc', sa.Boolean(), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('browser_family', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_consent_receipt_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_receipt')),
    sa.UniqueConstraint('receipt_id', name=op.f('uq_consent_receipt_receipt_id'))
    )
    with op.batch_alter_table('consent_receipt', schema=None) as batch_op:
        batch_op.create_index('ix_consent_receipt_recorded_at', ['recorded_at'], unique=False)



def downgrade():
    with op.batch_alter_table('consent_receipt', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_receipt_recorded_at')

    op.drop_table('consent_receipt')
