"""SQLite storage: the connection, migrations and one repository per aggregate."""

from datetime import datetime

from storage.arrivals import Arrival, Arrivals
from storage.audit import Audit, AuditEntry
from storage.budgets.rounds import BudgetRounds
from storage.community.connections import Connections
from storage.community.moderation import Activity, Sanctions
from storage.community.questions import Questions
from storage.community.reports import Reports
from storage.consultations.consultations import Consultations
from storage.consultations.responses import Responses
from storage.consultations.tallies import Tallies
from storage.db import Database, DatabaseError, StorageUnavailable
from storage.dialogs import ChatOptions, Dialogs, Option, StoredDialog
from storage.experiments.experiments import Experiments
from storage.experiments.proposals import Proposals
from storage.experiments.rooms import Rooms
from storage.handled import HandledEvent, HandledEvents
from storage.ideas.comments import Comments
from storage.ideas.ideas import Ideas
from storage.ideas.triage import Triage
from storage.inbox import Arrived, TelegramInbox
from storage.invites import Invite, Invites
from storage.logbook import Logbook
from storage.media import Media, MediaStore
from storage.meetings.meetings import Meetings
from storage.news.broadcasts import Broadcasts
from storage.news.news import News
from storage.news.recipients import Recipients
from storage.news.staff import StaffCards
from storage.news.subscriptions import Subscriptions
from storage.outbox import REPLY_KIND, Outbox, OutboxRow
from storage.platform_state import PlatformState
from storage.privacy.ledger import ErasureLedger
from storage.privacy.open_data import OpenData
from storage.privacy.personal import PersonalStore
from storage.privacy.retention import Retention
from storage.returns import Missed, MissedQuestion, Returns
from storage.stats import Stats
from storage.undecrypted import Undecrypted, UndecryptedMessages
from storage.users import Role, User, Users


class Repositories:
    """Every repository over one database, handed to handlers through their context."""

    def __init__(self, db: Database):
        self.db = db
        self.users = Users(db)
        self.arrivals = Arrivals(db, self.users)
        self.dialogs = Dialogs(db)
        self.chat_options = ChatOptions(db)
        self.media = MediaStore(db)
        self.outbox = Outbox(db)
        self.ideas = Ideas(db)
        self.comments = Comments(db)
        self.experiments = Experiments(db)
        self.proposals = Proposals(db)
        self.subscriptions = Subscriptions(db)
        self.news = News(db)
        self.staff = StaffCards(db)
        self.questions = Questions(db)
        self.handled = HandledEvents(db)
        self.telegram_inbox = TelegramInbox(db)
        self.platform_state = PlatformState(db)
        self.personal = PersonalStore(db)
        # An erasure wins over a message for that person already taken for sending.
        self.personal.erasing.append(self.outbox.stop_sending)
        # And over a message for someone else that quotes their words (an idea's title).
        self.personal.quoting.append(self.outbox.withhold_quotes)
        self.ledger = ErasureLedger(db)
        self.retention = Retention(db)
        self.open_data = OpenData(db)
        self.audit = Audit(db)
        self.broadcasts = Broadcasts(db, self.outbox, self.news, self.audit)
        self.triage = Triage(db, self.ideas, self.proposals)
        self.reports = Reports(db)
        self.sanctions = Sanctions(db)
        # A ban wins over a broadcast for them already taken for sending.
        self.sanctions.banning.append(self.outbox.stop_sending)
        self.activity = Activity(db)
        self.connections = Connections(db)
        self.recipients = Recipients(db)
        self.stats = Stats(db)
        self.logbook = Logbook(db)
        self.invites = Invites(db)
        self.budgets = BudgetRounds(db)
        self.undecrypted = UndecryptedMessages(db)
        self.consultations = Consultations(db)
        self.responses = Responses(db)
        self.tallies = Tallies(db)
        self.rooms = Rooms(db)
        self.meetings = Meetings(db)
        self.returns = Returns(db)
        # Someone who blocked the bot no longer gets "Wist je dat" (kept as it was, for them
        # to turn on again when they come back).
        self.outbox.on_unreachable(self._unsubscribe)

    async def _unsubscribe(self, user_id: int, now: datetime) -> None:
        await self.subscriptions.lapse(user_id, now)


__all__ = [
    "REPLY_KIND",
    "Arrival",
    "Arrivals",
    "Arrived",
    "Audit",
    "AuditEntry",
    "ChatOptions",
    "Database",
    "DatabaseError",
    "Dialogs",
    "ErasureLedger",
    "HandledEvent",
    "HandledEvents",
    "Invite",
    "Invites",
    "Media",
    "MediaStore",
    "Missed",
    "MissedQuestion",
    "Option",
    "Outbox",
    "OutboxRow",
    "PlatformState",
    "Repositories",
    "Returns",
    "Role",
    "StorageUnavailable",
    "StoredDialog",
    "TelegramInbox",
    "Undecrypted",
    "UndecryptedMessages",
    "User",
    "Users",
]
