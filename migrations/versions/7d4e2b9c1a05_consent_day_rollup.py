"""consent day rollup: the choices of each day, site, language and widget build, counted on write

Revision ID: 7d4e2b9c1a05
Revises: e4b7c2a91d36
Create Date: 2026-12-07 12:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7d4e2b9c1a05'
down_revision = 'e4b7c2a91d36'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('consent_day',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('widget_build', sa.String(length=64), nullable=False),
    sa.Column('slot', sa.SmallInteger(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('accept_all', sa.Integer(), nullable=False),
    sa.Column('reject_all', sa.Integer(), nullable=False),
    sa.Column('customised', sa.Integer(), nullable=False),
    sa.Column('closed', sa.Integer(), nullable=False),
    sa.Column('embed', sa.Integer(), nullable=False),
    sa.Column('granted_analytics', sa.Integer(), nullable=False),
    sa.Column('granted_advertising', sa.Integer(), nullable=False),
    sa.Column('granted_personalization', sa.Integer(), nullable=False),
    sa.Column('granted_social', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_consent_day_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_day')),
    sa.UniqueConstraint('day', 'site_id', 'language', 'widget_build', 'slot', name='uq_consent_day_key')
    )


def downgrade():
    op.drop_table('consent_day')
