"""Telegram's command menu, one per catalog language, each naming that language's commands.

Telegram shows the menu set for the app's language (``language_code``) and, for every other
language, the one set without a language: the default catalog's. Each language's menu lists
the same commands in the same order, each under the name that language's texts use (its own
name where it has one, the default language's otherwise: :meth:`Registry.described_commands`),
described in that language. Every name is answered in every language, so whatever a menu
shows, the bot knows.

Telegram refuses a whole menu for one entry it does not take, so each entry is made to fit
first: a name must be 1-32 lowercase letters, digits or underscores, a description 1-256
characters, and a menu at most 100 commands::

    own name fits? ──► shown ─┐            description: one line, trimmed; over 256 cut
        no ──► first name ────┤            with "…"; empty: the default language's
               no ──► left out (logged)    none at all: left out (logged)
"""

from __future__ import annotations

import logging
import re

from telegram import BotCommand

from handlers.catalog import Catalog
from handlers.feature import MenuCommand, Registry
from storage import graphemes

log = logging.getLogger(__name__)

#: What Telegram takes as a command's name in a menu.
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
#: Telegram's limits, in characters (code points) and commands.
DESCRIPTION_LIMIT = 256
COMMANDS_LIMIT = 100


def command_menu(registry: Registry, catalog: Catalog, lang: str) -> list[BotCommand]:
    """The resident's command menu in ``lang``, every entry one Telegram takes."""
    menu: list[BotCommand] = []
    for command in registry.described_commands(lang=lang):
        name = _name(command, lang)
        description = _description(catalog, lang, command.describe) or _description(
            catalog, catalog.default, command.describe
        )
        if name is None or not description:
            log.warning(
                "command menu in %s: /%s left out: Telegram would refuse its %s",
                lang,
                command.name,
                "name" if name is None else "description",
            )
            continue
        menu.append(BotCommand(name, description))
    if len(menu) > COMMANDS_LIMIT:
        log.warning(
            "command menu in %s: %d commands, Telegram takes %d; the last ones are left out",
            lang,
            len(menu),
            COMMANDS_LIMIT,
        )
    return menu[:COMMANDS_LIMIT]


def _name(command: MenuCommand, lang: str) -> str | None:
    """The command's name in ``lang`` if Telegram takes it, else its first name if that
    fits (answered in every language too), else None."""
    if COMMAND_NAME.fullmatch(command.name):
        return command.name
    if COMMAND_NAME.fullmatch(command.first):
        log.warning(
            "command menu in %s: /%s shown as /%s: Telegram does not take that name",
            lang,
            command.name,
            command.first,
        )
        return command.first
    return None


def _description(catalog: Catalog, lang: str, key: str) -> str:
    """The description on one line, without markup, cut to Telegram's limit ("" if empty;
    Telegram trims it, and refuses one that is empty then)."""
    text = " ".join(catalog.text(lang, key, {}, markup=False).split())
    if len(text) > DESCRIPTION_LIMIT:
        text = graphemes.cut(text, DESCRIPTION_LIMIT - 1).rstrip() + "…"
    return text
