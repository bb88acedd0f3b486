from recovery_notices.models import metadata
from recovery_shared.messaging.migrations import run_env

run_env(metadata)
