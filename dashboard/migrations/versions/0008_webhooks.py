"""lifecycle webhooks: endpoints, outbox events, deliveries, attempts

Revision ID: 0008_webhooks
Revises: 0007_connection_health
Create Date: 2026-12-04 17:46:25

The outbox of lifecycle webhooks (dashboard/webhooks/): an event and its deliveries are written in the
transaction of the change they report; workers lease deliveries like portals.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import dashboard.utc_datetime  # autogenerate names UTCDateTime by its defining module


revision: str = '0008_webhooks'
down_revision: str | None = '0007_connection_health'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webhook_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('at', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('response', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_attempt_delivery_id'), ['delivery_id'], unique=False)

    op.create_table('webhook_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('hub_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.SmallInteger(), nullable=False),
    sa.Column('next_attempt_at', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('lease_expires_at', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_response', sa.Text(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_delivery_chain', ['endpoint_id', 'hub_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_webhook_delivery_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_event_id'), ['event_id'], unique=False)

    op.create_table('webhook_endpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app', sa.String(length=64), server_default='default', nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('event_types', sa.Text(), nullable=False),
    sa.Column('secret_ct', sa.Text(), nullable=False),
    sa.Column('secret_key_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('previous_secret_ct', sa.Text(), nullable=True),
    sa.Column('previous_secret_key_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('previous_secret_expires_at', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('created_at', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=True),
    sa.Column('removed_at', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('webhook_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('msg_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('app', sa.String(length=64), server_default='default', nullable=False),
    sa.Column('event_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hub_id', sa.BigInteger(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created_at', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('msg_id')
    )


def downgrade() -> None:
    op.drop_table('webhook_event')
    op.drop_table('webhook_endpoint')
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_event_id'))
        batch_op.drop_index('ix_webhook_delivery_due')
        batch_op.drop_index('ix_webhook_delivery_chain')

    op.drop_table('webhook_delivery')
    with op.batch_alter_table('webhook_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_attempt_delivery_id'))

    op.drop_table('webhook_attempt')
