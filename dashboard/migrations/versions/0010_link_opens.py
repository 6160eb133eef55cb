"""sendable links: opens audited once a minute with a count; a link's live states counted (index)

Revision ID: 0010_link_opens
Revises: 0009_audit_read_counts
Create Date: 2026-12-04 18:05:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dashboard.models

revision: str = '0010_link_opens'
down_revision: str | None = '0009_audit_read_counts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('install_link', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opens_unaudited', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('open_audited_at', dashboard.models.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('install_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_install_attempt_link_id'), ['link_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('install_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_install_attempt_link_id'))
    with op.batch_alter_table('install_link', schema=None) as batch_op:
        batch_op.drop_column('open_audited_at')
        batch_op.drop_column('opens_unaudited')
