"""PIPL consent records

Revision ID: 0a4c7e6f8b9d
Revises: f3b6d5e7a8c9
Create Date: 2026-11-23 10:00:00.000000

"""

from alembic import op
import sqlalchemy as sa

import crm.models.types


# revision identifiers, used by Alembic.
revision = "0a4c7e6f8b9d"
down_revision = "f3b6d5e7a8c9"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("policy_version", sa.String(length=20), nullable=False, server_default="")
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("erased_at", crm.models.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("erased_at")

    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_column("policy_version")
