"""PIPL consent records

Revision ID: 0a4c7e6f8b9d
Revises: f3b6d5e7a8c9
Create Date: 2026-11-23 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crm.models.types


# revision identifiers, used by Alembic.
revision = '0a4c7e6f8b9d'
down_revision = 'f3b6d5e7a8c9'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
