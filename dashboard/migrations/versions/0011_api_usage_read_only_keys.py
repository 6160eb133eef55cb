"""api usage per minute (proxied HubSpot calls); read-only API keys (existing keys stay read-write)

Revision ID: 0011_api_usage_read_only_keys
Revises: 0010_link_opens
Create Date: 2026-12-04 18:24:34.640650
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import dashboard.models
import dashboard.utc_datetime  # autogenerate names UTCDateTime by its defining module

revision: str = '0011_api_usage_read_only_keys'
down_revision: str | None = '0010_link_opens'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_usage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app', sa.String(length=64), server_default='default', nullable=False),
    sa.Column('hub_id', sa.BigInteger(), nullable=False),
    sa.Column('minute', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=False),
    sa.Column('key_prefix', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('s2xx', sa.Integer(), nullable=False),
    sa.Column('s4xx', sa.Integer(), nullable=False),
    sa.Column('s5xx', sa.Integer(), nullable=False),
    sa.Column('limited_local', sa.Integer(), nullable=False),
    sa.Column('limited_hubspot', sa.Integer(), nullable=False),
    sa.Column('latency_hist', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('api_usage', schema=None) as batch_op:
        batch_op.create_index('ix_api_usage_app_hub_minute', ['app', 'hub_id', 'minute'], unique=False)

    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_only', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_column('read_only')

    with op.batch_alter_table('api_usage', schema=None) as batch_op:
        batch_op.drop_index('ix_api_usage_app_hub_minute')

    op.drop_table('api_usage')
