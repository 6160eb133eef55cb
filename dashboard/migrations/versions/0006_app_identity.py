"""connection identity is (app, hub_id); versioned encryption binding

Every existing portal (and its granted scopes) belongs to the one app configured so far, ``'default'`` (the
default of DASHBOARD_APP_ID). Existing ciphertexts stay bound the old way (``binding`` 1: hub id only) and
still decrypt; new writes and `keys rotate` bind to app and hub id (``binding`` 2).

SQLite cannot change a primary key in place: batch mode copies the table (the same rows, in one
transaction). PostgreSQL drops the old primary key and adds the new one.

Revision ID: 0006_app_identity
Revises: 0005_portal_scopes_list_indexes
Create Date: 2026-12-01 16:20:00
"""
import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006_app_identity'
down_revision: str | None = '0005_portal_scopes_list_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXISTING_APP = 'default'  # dashboard.models.DEFAULT_APP when this revision was written; never changes here


def _rekey(table: str, new_pk: list[str]) -> None:
    """Add ``app`` filled with EXISTING_APP and make ``new_pk`` the primary key."""
    postgres = op.get_bind().dialect.name == 'postgresql'
    with op.batch_alter_table(table, schema=None) as batch_op:
        # A server default fills the existing rows in the same statement; dropped below, so an insert that
        # forgets its app fails instead of landing in the default app.
        batch_op.add_column(sa.Column('app', sa.String(length=64), nullable=False, server_default=EXISTING_APP))
    with warnings.catch_warnings(), op.batch_alter_table(table, schema=None) as batch_op:
        # SQLite's copy keeps the reflected primary_key flag on the old key's columns, and SQLAlchemy warns
        # that it sets the new key instead: that is the change wanted here.
        warnings.filterwarnings('ignore', message=r".*specifies columns .* as primary_key=True, not matching",
                                category=sa.exc.SAWarning)
        batch_op.alter_column('app', existing_type=sa.String(length=64), server_default=None)
        if postgres:
            batch_op.drop_constraint(f'{table}_pkey', type_='primary')
        batch_op.create_primary_key(f'{table}_pkey', new_pk)


def upgrade() -> None:
    _rekey('portal', ['app', 'hub_id'])
    with op.batch_alter_table('portal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('binding', sa.SmallInteger(), nullable=False, server_default='1'))
    with op.batch_alter_table('portal', schema=None) as batch_op:
        batch_op.alter_column('binding', existing_type=sa.SmallInteger(), server_default=None)
    _rekey('portal_scope', ['app', 'scope', 'hub_id'])
    # Rows about a connection: the app beside the hub id. The server default stays (SQLite adds such a column
    # without copying the table, which matters for a long audit trail); the repository always sets it.
    for table in ('install_attempt', 'pending_install', 'audit_event', 'install_link'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('app', sa.String(length=64), nullable=False,
                                          server_default=EXISTING_APP))
    with op.batch_alter_table('portal_scope', schema=None) as batch_op:
        batch_op.drop_index('ix_portal_scope_hub_id')
        batch_op.create_index('ix_portal_scope_app_hub_id', ['app', 'hub_id'], unique=False)


def downgrade() -> None:
    # Only while one app is in use: hub_id alone must be unique again. Rows bound by app (binding 2) do not
    # decrypt under the previous code: run this only on a database whose rows the previous code wrote.
    postgres = op.get_bind().dialect.name == 'postgresql'
    for table in ('install_attempt', 'pending_install', 'audit_event', 'install_link'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('app')
    with op.batch_alter_table('portal_scope', schema=None) as batch_op:
        batch_op.drop_index('ix_portal_scope_app_hub_id')
        batch_op.create_index('ix_portal_scope_hub_id', ['hub_id'], unique=False)
    for table, pk in (('portal_scope', ['scope', 'hub_id']), ('portal', ['hub_id'])):
        with warnings.catch_warnings(), op.batch_alter_table(table, schema=None) as batch_op:
            warnings.filterwarnings('ignore', message=r".*specifies columns .* as primary_key=True, not matching",
                                    category=sa.exc.SAWarning)
            if postgres:
                batch_op.drop_constraint(f'{table}_pkey', type_='primary')
            batch_op.create_primary_key(f'{table}_pkey', pk)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('app')
    with op.batch_alter_table('portal', schema=None) as batch_op:
        batch_op.drop_column('binding')
