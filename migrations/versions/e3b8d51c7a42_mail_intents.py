"""mail intents: sign-in and status links asked for, worked out after the response

Revision ID: e3b8d51c7a42
Revises: 3f9d2c7a8e41
Create Date: 2026-12-07 12:05:00.000000

"""
from alembic import op
import sqlalchemy as sa
import privacy_center.models.types  # noqa: F401 - custom column types


# revision identifiers, used by Alembic.
revision = 'e3b8d51c7a42'
down_revision = '3f9d2c7a8e41'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mail_intent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('next_path', sa.Text(), nullable=True),
    sa.Column('base_url', sa.String(length=500), nullable=False),
    sa.Column('created_at', privacy_center.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', privacy_center.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', privacy_center.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_intent'))
    )
    with op.batch_alter_table('mail_intent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_intent_next_attempt_at'), ['next_attempt_at'], unique=False)


def downgrade():
    with op.batch_alter_table('mail_intent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_intent_next_attempt_at'))

    op.drop_table('mail_intent')
