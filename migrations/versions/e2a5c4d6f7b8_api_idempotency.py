"""api: idempotency keys

Revision ID: e2a5c4d6f7b8
Revises: d1f4b3c5e6a7
Create Date: 2026-11-23 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crm.models.types


# revision identifiers, used by Alembic.
revision = 'e2a5c4d6f7b8'
down_revision = 'd1f4b3c5e6a7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('api_idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('principal', sa.String(length=30), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('claimed_at', crm.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', crm.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response', crm.models.types.EncryptedText(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_idempotency_keys')),
    sa.UniqueConstraint('principal', 'key', name=op.f('uq_api_idempotency_keys_principal'))
    )
    with op.batch_alter_table('api_idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_idempotency_keys_claimed_at'), ['claimed_at'], unique=False)


def downgrade():
    op.drop_table('api_idempotency_keys')
