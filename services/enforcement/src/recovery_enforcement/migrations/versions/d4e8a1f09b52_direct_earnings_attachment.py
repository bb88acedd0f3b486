"""direct earnings attachment: the person's employment and the attachment on each case

Revision ID: d4e8a1f09b52
Revises: 6c2d9e4f1a37
Create Date: 2026-11-29 16:10:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'd4e8a1f09b52'
down_revision: Union[str, Sequence[str], None] = '6c2d9e4f1a37'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('recovery_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('employment', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('attachment', sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('recovery_case', schema=None) as batch_op:
        batch_op.drop_column('attachment')
        batch_op.drop_column('employment')
