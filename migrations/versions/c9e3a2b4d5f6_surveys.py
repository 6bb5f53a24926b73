"""CS surveys and NPS

Revision ID: c9e3a2b4d5f6
Revises: b8d2f1a3c4e5
Create Date: 2026-11-23 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crm.models.types


# revision identifiers, used by Alembic.
revision = 'c9e3a2b4d5f6'
down_revision = 'b8d2f1a3c4e5'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
