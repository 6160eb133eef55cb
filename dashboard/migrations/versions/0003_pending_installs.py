"""pending installs: tokens granted for an install whose account could not be named yet

Revision ID: 0003_pending_installs
Revises: 0002_worker_heartbeats_api_keys
Create Date: 2026-12-01 15:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import dashboard.models


revision: str = '0003_pending_installs'
down_revision: str | None = '0002_worker_heartbeats_api_keys'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pending_install',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('access_token_ct', sa.Text(), nullable=False),
    sa.Column('refresh_token_ct', sa.Text(), nullable=False),
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('hub_id', sa.BigInteger(), nullable=True),
    sa.Column('required_scopes', sa.Text(), nullable=False),
    sa.Column('optional_scopes', sa.Text(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('expires_at', dashboard.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', dashboard.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', dashboard.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pending_install', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_install_ref'), ['ref'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('pending_install', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_install_ref'))
    op.drop_table('pending_install')
