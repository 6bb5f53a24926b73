"""session epochs: log-out revokes every earlier session cookie

Revision ID: 2c6e9a8b0d1f
Revises: 1b5d8f7a9c0e
Create Date: 2026-11-23 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crm.models.types


# revision identifiers, used by Alembic.
revision = '2c6e9a8b0d1f'
down_revision = '1b5d8f7a9c0e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
