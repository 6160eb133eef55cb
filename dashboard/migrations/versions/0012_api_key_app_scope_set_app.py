"""API keys may be restricted to one app (``api_key.app``, null: every app); saved scope sets belong to an app

Existing keys keep working everywhere (null app); their hub-id restrictions, written before apps as bare
hub ids, keep naming the default app's portals (dashboard/admin/api_keys.py reads them so). Existing scope sets
belong to the app every row belonged to so far, ``'default'``; a name is unique within its app.

Revision ID: 0012_api_key_app_scope_set_app
Revises: 0011_api_usage_read_only_keys
Create Date: 2026-12-05 08:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_api_key_app_scope_set_app'
down_revision: str | None = '0011_api_usage_read_only_keys'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXISTING_APP = 'default'  # dashboard.models.DEFAULT_APP when this revision was written; never changes here


def upgrade() -> None:
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('app', sa.String(length=64), nullable=True))
    with op.batch_alter_table('scope_set', schema=None) as batch_op:
        batch_op.add_column(sa.Column('app', sa.String(length=64), nullable=False, server_default=EXISTING_APP))
        batch_op.drop_index('ix_scope_set_name')
        batch_op.create_index('ix_scope_set_name', ['name'], unique=False)
        batch_op.create_index('ix_scope_set_app_name', ['app', 'name'], unique=True)


def downgrade() -> None:
    # Only while every scope set name is unique across apps (one app in use).
    with op.batch_alter_table('scope_set', schema=None) as batch_op:
        batch_op.drop_index('ix_scope_set_app_name')
        batch_op.drop_index('ix_scope_set_name')
        batch_op.create_index('ix_scope_set_name', ['name'], unique=True)
        batch_op.drop_column('app')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_column('app')
