"""when a request's status link was issued (the link expires after the request closes)

Revision ID: 5c1e7a9b3d20
Revises: ad2e6fda5184
Create Date: 2026-12-07 10:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
import privacy_center.models.types  # noqa: F401 - custom column types


# revision identifiers, used by Alembic.
revision = '5c1e7a9b3d20'
down_revision = 'ad2e6fda5184'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('privacy_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_link_issued_at', privacy_center.models.types.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('privacy_request', schema=None) as batch_op:
        batch_op.drop_column('status_link_issued_at')
