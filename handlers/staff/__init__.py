"""Staff: roles and invites, the audit log and statistics."""
