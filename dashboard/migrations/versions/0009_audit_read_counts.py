"""audit rows carry a count: token API reads are counted per key, portal and minute in one row

Every existing row stands for one action (``count`` 1, the server default fills them).

Revision ID: 0009_audit_read_counts
Revises: 0008_webhooks
Create Date: 2026-12-04 18:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_audit_read_counts'
down_revision: str | None = '0008_webhooks'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('count', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('count')
