"""The catalog keys the connector's features build from data all exist, in every language."""

from __future__ import annotations

import handlers
from handlers.catalog import Catalog
from handlers.community.moderation import DECISIONS, IDEA_DECISIONS, Comments
from handlers.community.moderation import Ideas as ModeratedIdeas
from handlers.experiments.triage import Proposals
from handlers.ideas.triage import Ideas
from handlers.staff.roles import role_lost
from storage.community.moderation import ReportReason
from storage.experiments.proposals import ProposalStatus
from storage.ideas.ideas import IdeaStatus
from storage.users import Role

CATALOG = Catalog.load()
IDEA_CHOICES = Ideas.choices
PROPOSAL_CHOICES = Proposals.choices


def _built_keys() -> set[str]:
    keys = {f"triage.btn.{s.value}" for s in (*IDEA_CHOICES, *PROPOSAL_CHOICES)}
    keys |= {f"triage.idea_notice.{s.value}" for s in IDEA_CHOICES}
    keys |= {f"triage.proposal_notice.{s.value}" for s in PROPOSAL_CHOICES}
    keys |= {"triage.idea_notice.reopened", "triage.proposal_notice.reopened"}
    keys |= {f"ideas.status.{s.value}" for s in IdeaStatus}
    keys |= {f"proposals.status.{s.value}" for s in ProposalStatus}
    for decision in DECISIONS:
        keys |= {f"moderation.{kind}_{decision}" for kind in ("told", "done", "ask_reason", "btn")}
    for decision in IDEA_DECISIONS:
        keys |= {f"moderation.idea.{kind}_{decision}" for kind in ("told", "done", "ask_reason")}
        keys.add(f"moderation.btn_{decision}")
    outcomes = {"keep": "kept", "remove": "removed"}
    for subject, decisions in (("comment", DECISIONS), ("idea", IDEA_DECISIONS)):
        keys |= {f"moderation.reporter.{subject}_{outcomes.get(d, 'hidden')}" for d in decisions}
        keys |= {
            f"{area}.{key}"
            for area in ("moderation", "moderation.idea")
            for key in ("already_decided", "not_reported")
        }
    keys |= {kind.not_found for kind in (Comments, ModeratedIdeas)}
    keys |= {
        f"reporting{area}.{key}"
        for area in ("", ".idea")
        for key in ("ask_reason", "btn_back", "gone", "own", "already_hidden", "already")
    }
    keys |= {
        f"{area}.reason.{r.value}" for r in ReportReason for area in ("reporting", "moderation")
    }
    keys |= {f"moderation.author.{role.value}" for role in Role}
    keys |= {f"roles.names.{role.value}" for role in Role}
    keys |= {role_lost(role).key for role in Role}
    # The audit log's actors: the operator, the bot itself, a person, and a platform that
    # moved a group (bot/app.py records ``actor=platform``).
    actors = ("cli", "system", "user", "gone", "bot", "telegram", "matrix")
    keys |= {f"oversight.actor.{actor}" for actor in actors}
    keys |= {f"flood.too_many_{kind}s" for kind in handlers.registry().posting_limits}
    return keys


def test_every_key_built_from_a_status_reason_or_role_exists_in_every_language() -> None:
    for lang in CATALOG.languages:
        missing = sorted(key for key in _built_keys() if key not in CATALOG.texts[lang])
        assert missing == [], lang


def test_residents_hear_the_connectors_name_never_a_job_title() -> None:
    titles = ("verbinder", "connector", "görevli", "łącznik", "الوسيط", "посередник")
    for lang in CATALOG.languages:
        for key in ("privacy.holds.questions", "rooms.reported", "rooms.invite_failed"):
            assert "{connector}" in CATALOG.texts[lang][key], (lang, key)
            text = CATALOG.text(lang, key, {"connector": "X"}, markup=False).casefold()
            assert not any(title in text for title in titles), (lang, key)
