"""kernel: dead letters kept in the database, officer commands by id

Revision ID: 623522bfee33
Revises: 8961062ce437
Create Date: 2026-11-29 10:09:02.218034

"""
from typing import Sequence, Union

from recovery_shared.messaging import kernel_migrations


# revision identifiers, used by Alembic.
revision: str = '623522bfee33'
down_revision: Union[str, Sequence[str], None] = '8961062ce437'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    kernel_migrations.add_dead_letters_and_officer_commands()


def downgrade() -> None:
    kernel_migrations.drop_dead_letters_and_officer_commands()
