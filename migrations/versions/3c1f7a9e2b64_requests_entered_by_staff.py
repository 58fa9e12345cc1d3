"""requests entered by staff: channel, postal address, optional email

Revision ID: 3c1f7a9e2b64
Revises: aa4ad428aa04
Create Date: 2026-12-07 09:20:00.000000

A request can now arrive by post, email or phone and be entered by staff (rights/intake.py):
it records its channel (every existing request came through the web forms: "web"), the
requester's postal address, and its email becomes optional (a letter by post may give none).

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c1f7a9e2b64'
down_revision = 'aa4ad428aa04'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('privacy_request', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('channel', sa.String(length=8), server_default='web', nullable=False)
        )
        batch_op.add_column(sa.Column('postal_address', sa.Text(), nullable=True))
        batch_op.alter_column('email', existing_type=sa.String(length=254), nullable=True)


def downgrade():
    # A request without an email cannot go back to a schema that requires one: refuse rather
    # than invent an address.
    connection = op.get_bind()
    missing = connection.execute(
        sa.text('SELECT COUNT(*) FROM privacy_request WHERE email IS NULL')
    ).scalar_one()
    if missing:
        raise RuntimeError(
            f'{missing} request(s) have no email address: delete them or give them one '
            'before downgrading below 3c1f7a9e2b64'
        )
    with op.batch_alter_table('privacy_request', schema=None) as batch_op:
        batch_op.alter_column('email', existing_type=sa.String(length=254), nullable=False)
        batch_op.drop_column('postal_address')
        batch_op.drop_column('channel')
