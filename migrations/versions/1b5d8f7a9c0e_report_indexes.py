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
    # The reports' month cohorts (issue 10): the funnel and the KPIs pick the leads created in
    # a Beijing month, a range on created_at.
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index('ix_leads_created_at', ['created_at'], unique=False)
    # The funnel's per-lead questions (any communication? any visit or test drive?) answered
    # from the index alone, without reading each lead's communications.
    with op.batch_alter_table('communications', schema=None) as batch_op:
        batch_op.create_index('ix_communications_lead_channel', ['lead_id', 'channel'], unique=False)


def downgrade():
    with op.batch_alter_table('communications', schema=None) as batch_op:
        batch_op.drop_index('ix_communications_lead_channel')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_created_at')
