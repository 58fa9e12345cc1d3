"""audit chain keyed: the key id of each row's seal

Revision ID: 7b2e4c9d1a05
Revises: a8c3d4067d5d
Create Date: 2026-12-07 09:55:00.000000

Rows written before this revision keep their plain SHA-256 hash and a NULL key id: the audit log
checks them as they were written (privacy_center/audit.py), and the first row sealed with the
key seals them in turn. Nothing is rewritten.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7b2e4c9d1a05'
down_revision = 'a8c3d4067d5d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('key_id')
