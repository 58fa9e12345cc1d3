"""consent receipt services: the choice for each service of the registry

Revision ID: 9a3c5e7f1b24
Revises: 7d4e2b9c1a05
Create Date: 2026-12-07 13:35:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9a3c5e7f1b24'
down_revision = '7d4e2b9c1a05'
branch_labels = None
depends_on = None


def upgrade():
    # Receipts recorded before services existed keep an empty object: they decided categories.
    with op.batch_alter_table('consent_receipt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('services', sa.JSON(), server_default='{}', nullable=False))


def downgrade():
    with op.batch_alter_table('consent_receipt', schema=None) as batch_op:
        batch_op.drop_column('services')
