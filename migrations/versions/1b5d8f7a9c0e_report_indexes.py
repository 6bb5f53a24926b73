"""indexes for reports

Revision ID: 1b5d8f7a9c0e
Revises: 0a4c7e6f8b9d
Create Date: 2026-11-23 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crm.models.types


# revision identifiers, used by Alembic.
revision = '1b5d8f7a9c0e'
down_revision = '0a4c7e6f8b9d'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
