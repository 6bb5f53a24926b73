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
    op.create_table('surveys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('service_order_id', sa.Integer(), nullable=True),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('dedupe_key', sa.String(length=60), nullable=False),
    sa.Column('outbox_message_id', sa.Integer(), nullable=True),
    sa.Column('expires_at', crm.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), server_default='', nullable=False),
    sa.Column('answered_at', crm.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('callback_task_id', sa.Integer(), nullable=True),
    sa.Column('created_at', crm.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['callback_task_id'], ['care_tasks.id'], name=op.f('fk_surveys_callback_task_id_care_tasks')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_surveys_customer_id_customers')),
    sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_messages.id'], name=op.f('fk_surveys_outbox_message_id_outbox_messages')),
    sa.ForeignKeyConstraint(['service_order_id'], ['service_orders.id'], name=op.f('fk_surveys_service_order_id_service_orders')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_surveys_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_surveys')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_surveys_dedupe_key'))
    )
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_surveys_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_surveys_store_period_kind', ['store_id', 'period', 'kind'], unique=False)


def downgrade():
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_index('ix_surveys_store_period_kind')
        batch_op.drop_index(batch_op.f('ix_surveys_customer_id'))

    op.drop_table('surveys')
