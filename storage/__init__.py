"""SQLite storage: the connection, migrations and one repository per aggregate."""

from storage.audit import Audit, AuditEntry
from storage.db import Database, DatabaseError, StorageUnavailable
from storage.dialogs import ChatOptions, Dialogs, StoredDialog
from storage.invites import Invite, Invites
from storage.media import Media, MediaStore
from storage.outbox import Outbox, OutboxRow
from storage.users import Role, User, Users


class Repositories:
    """Every repository over one database, handed to handlers through their context."""

    def __init__(self, db: Database):
        self.db = db
        self.users = Users(db)
        self.dialogs = Dialogs(db)
        self.chat_options = ChatOptions(db)
        self.media = MediaStore(db)
        self.outbox = Outbox(db)
        self.audit = Audit(db)
        self.invites = Invites(db)


__all__ = [
    "Audit",
    "AuditEntry",
    "ChatOptions",
    "Database",
    "DatabaseError",
    "Dialogs",
    "Invite",
    "Invites",
    "Media",
    "MediaStore",
    "Outbox",
    "OutboxRow",
    "Repositories",
    "Role",
    "StorageUnavailable",
    "StoredDialog",
    "User",
    "Users",
]
