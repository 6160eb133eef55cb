"""sendable install links, sign-out epochs, install_attempt.link_id

Revision ID: 0004_install_links_sign_outs
Revises: 0003_pending_installs
Create Date: 2026-12-01 15:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import dashboard.models


revision: str = '0004_install_links_sign_outs'
down_revision: str | None = '0003_pending_installs'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('install_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('link_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('required_scopes', sa.Text(), nullable=False),
    sa.Column('optional_scopes', sa.Text(), nullable=False),
    sa.Column('account_id', sa.BigInteger(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('created_at', dashboard.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', dashboard.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', dashboard.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_hub_id', sa.BigInteger(), nullable=True),
    sa.Column('revoked_at', dashboard.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('install_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_install_link_link_hash'), ['link_hash'], unique=True)

    op.create_table('user_sign_out',
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('signed_out_at', dashboard.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('email')
    )
    with op.batch_alter_table('install_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('install_attempt', schema=None) as batch_op:
        batch_op.drop_column('link_id')
    op.drop_table('user_sign_out')
    with op.batch_alter_table('install_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_install_link_link_hash'))
    op.drop_table('install_link')
