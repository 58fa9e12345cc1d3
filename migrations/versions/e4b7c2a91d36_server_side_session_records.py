"""server-side session records: sign-out, an admin or a reset ends a session

Revision ID: e4b7c2a91d36
Revises: e3b8d51c7a42
Create Date: 2026-12-07 11:55:00.000000

"""
from alembic import op
import sqlalchemy as sa
import privacy_center.models.types  # noqa: F401 - custom column types


# revision identifiers, used by Alembic.
revision = 'e4b7c2a91d36'
down_revision = 'e3b8d51c7a42'
branch_labels = None
depends_on = None


def upgrade():
    # Sessions opened before this revision carry no session id: their holders and staff
    # members sign in again once (the loader refuses a session without a record).
    op.create_table('session_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('staff_member_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('created_at', privacy_center.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', privacy_center.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', privacy_center.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', privacy_center.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=32), nullable=True),
    sa.CheckConstraint("(kind = 'staff' AND staff_member_id IS NOT NULL AND account_id IS NULL) OR (kind = 'account' AND account_id IS NOT NULL AND staff_member_id IS NULL)", name=op.f('ck_session_record_one_owner')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_session_record_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_member_id'], ['staff_member.id'], name=op.f('fk_session_record_staff_member_id_staff_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_record')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_session_record_token_hash'))
    )
    with op.batch_alter_table('session_record', schema=None) as batch_op:
        batch_op.create_index('ix_session_record_expires_at', ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_record_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_record_staff_member_id'), ['staff_member_id'], unique=False)


def downgrade():
    with op.batch_alter_table('session_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_record_staff_member_id'))
        batch_op.drop_index(batch_op.f('ix_session_record_account_id'))
        batch_op.drop_index('ix_session_record_expires_at')

    op.drop_table('session_record')
