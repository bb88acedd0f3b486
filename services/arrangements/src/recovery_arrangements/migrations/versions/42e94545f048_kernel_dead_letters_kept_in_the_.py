"""kernel: dead letters kept in the database, officer commands by id

Revision ID: 42e94545f048
Revises: 15b0d24cccc8
Create Date: 2026-11-29 10:09:04.166724

"""
from typing import Sequence, Union

from recovery_shared.messaging import kernel_migrations


# revision identifiers, used by Alembic.
revision: str = '42e94545f048'
down_revision: Union[str, Sequence[str], None] = '15b0d24cccc8'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    kernel_migrations.add_dead_letters_and_officer_commands()


def downgrade() -> None:
    kernel_migrations.drop_dead_letters_and_officer_commands()
