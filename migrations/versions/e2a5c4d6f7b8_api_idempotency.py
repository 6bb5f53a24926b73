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
    pass


def downgrade():
    pass
