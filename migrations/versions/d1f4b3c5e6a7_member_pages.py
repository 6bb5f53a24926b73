"""member pages: preferences and privacy requests

Revision ID: d1f4b3c5e6a7
Revises: c9e3a2b4d5f6
Create Date: 2026-11-23 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crm.models.types


# revision identifiers, used by Alembic.
revision = 'd1f4b3c5e6a7'
down_revision = 'c9e3a2b4d5f6'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
