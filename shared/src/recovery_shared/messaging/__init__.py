"""The messaging kernel: inbox, outbox, dead letters and retries (design §5)."""
