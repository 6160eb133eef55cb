"""connection health: failing_since, timeline fields on the audit log, app-wide conditions

``portal.failing_since`` is set exactly while a portal's health state is ``failing``; rows failing now get
their last refresh time (the best lower bound known). The audit log becomes the per-portal timeline: nullable
columns for HubSpot's answer, the call's duration and attempt, and a transition's states. ``app_condition``
holds app-wide conditions shared by replicas (HubSpot degraded, a configuration problem).

Revision ID: 0007_connection_health
Revises: 0006_app_identity
Create Date: 2026-12-04 17:42:13.022755
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import dashboard.utc_datetime  # autogenerate names UTCDateTime by its defining module


revision: str = '0007_connection_health'
down_revision: str | None = '0006_app_identity'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('app_condition',
    sa.Column('app', sa.String(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('since', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('probe_at', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=True),
    sa.Column('probe_owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('updated_at', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('app', 'name')
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('http_status', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hubspot_status', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('hubspot_category', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('correlation_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('answer', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('duration_ms', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('attempt', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('from_state', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('to_state', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.create_index('ix_audit_hub_action_at', ['hub_id', 'action', 'at'], unique=False)

    with op.batch_alter_table('portal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failing_since', dashboard.utc_datetime.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE portal SET failing_since = COALESCE(last_refresh_at, updated_at, installed_at) "
               "WHERE status = 'refresh_failing' AND COALESCE(last_refresh_result, '') "
               "NOT IN ('key_missing', 'undecryptable')")
    # A key problem is a state of its own, stored as which key problem (dashboard/lifecycle/machine.py).
    op.execute("UPDATE portal SET status = last_refresh_result, next_attempt_at = NULL "
               "WHERE status = 'refresh_failing' AND last_refresh_result IN ('key_missing', 'undecryptable')")



def downgrade() -> None:
    op.execute("UPDATE portal SET status = 'refresh_failing' WHERE status IN ('key_missing', 'undecryptable')")
    with op.batch_alter_table('portal', schema=None) as batch_op:
        batch_op.drop_column('failing_since')

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_hub_action_at')
        batch_op.drop_column('to_state')
        batch_op.drop_column('from_state')
        batch_op.drop_column('attempt')
        batch_op.drop_column('duration_ms')
        batch_op.drop_column('answer')
        batch_op.drop_column('correlation_id')
        batch_op.drop_column('hubspot_category')
        batch_op.drop_column('hubspot_status')
        batch_op.drop_column('http_status')

    op.drop_table('app_condition')
