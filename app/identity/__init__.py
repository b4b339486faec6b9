"""Back-office identity: admin users and their tokens, machine API keys, the audit trail."""
