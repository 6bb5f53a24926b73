"""complaints with SLA clocks

Revision ID: b8d2f1a3c4e5
Revises: a7c1e0f2b3d4
Create Date: 2026-11-23 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crm.models.types


# revision identifiers, used by Alembic.
revision = 'b8d2f1a3c4e5'
down_revision = 'a7c1e0f2b3d4'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
