"""kernel: dead letters kept in the database, officer commands by id

Revision ID: a7824d734186
Revises: 3c90039213b4
Create Date: 2026-11-29 10:09:07.536644

"""
from typing import Sequence, Union

from recovery_shared.messaging import kernel_migrations


# revision identifiers, used by Alembic.
revision: str = 'a7824d734186'
down_revision: Union[str, Sequence[str], None] = '3c90039213b4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    kernel_migrations.add_dead_letters_and_officer_commands()


def downgrade() -> None:
    kernel_migrations.drop_dead_letters_and_officer_commands()
