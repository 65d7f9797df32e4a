"""Operator commands: the CLI, doctor, backups, exports and retention."""
