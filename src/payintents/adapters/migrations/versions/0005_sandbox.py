"""The sandbox: account clocks, injected failures and the request log.

Revision ID: 0005
Revises: 0004


"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('sandbox_clocks',
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('offset_us', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('offset_us >= 0', name='ck_clock_forward_only'),
    sa.PrimaryKeyConstraint('account_id')
    )
    op.create_table('sandbox_failures',
    sa.Column('payment_intent_id', sa.String(length=64), nullable=False),
    sa.Column('operation', sa.String(length=20), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('delay_ms', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('payment_intent_id', 'operation')
    )
    op.create_table('sandbox_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('trace_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('path', sa.String(length=2048), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('replayed', sa.Boolean(), nullable=False),
    sa.Column('payment_intent_id', sa.String(length=64), nullable=True),
    sa.Column('request_body', sa.Text(), nullable=False),
    sa.Column('response_body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sandbox_requests', schema=None) as batch_op:
        batch_op.create_index('ix_sandbox_requests_account', ['account_id', 'environment', 'at'], unique=False)
        batch_op.create_index('ix_sandbox_requests_at', ['at'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('sandbox_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_sandbox_requests_at')
        batch_op.drop_index('ix_sandbox_requests_account')

    op.drop_table('sandbox_requests')
    op.drop_table('sandbox_failures')
    op.drop_table('sandbox_clocks')
    
