"""outbox messages to staff

Revision ID: a7c1e0f2b3d4
Revises: 34e1745cdcda
Create Date: 2026-11-23 09:00:00.000000

"""

from alembic import op
import sqlalchemy as sa

import crm.models.types


# revision identifiers, used by Alembic.
revision = "a7c1e0f2b3d4"
down_revision = "34e1745cdcda"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_messages_staff_id"), ["staff_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_messages_staff_id_staff"), "staff", ["staff_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_messages_staff_id_staff"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_outbox_messages_staff_id"))
        batch_op.drop_column("staff_id")
