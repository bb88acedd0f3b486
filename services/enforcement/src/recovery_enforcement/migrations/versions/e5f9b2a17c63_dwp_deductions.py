"""dwp deductions: the request to the DWP to recover an overpayment from other benefits

Revision ID: e5f9b2a17c63
Revises: d4e8a1f09b52
Create Date: 2026-11-29 16:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'e5f9b2a17c63'
down_revision: Union[str, Sequence[str], None] = 'd4e8a1f09b52'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('recovery_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('benefit_deduction', sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('recovery_case', schema=None) as batch_op:
        batch_op.drop_column('benefit_deduction')
