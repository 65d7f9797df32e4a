"""Every action the code writes to the audit log has words in every catalog.

/logboek shows an action by its words under ``[oversight.actions]``; an action without them
would reach a civil servant as its raw name (``budget.open``). The actions are found in the
source, the way the catalog tests find keys: the first argument of every ``audit.record(...)``,
followed through the functions that pass an action on (``announce(ctx, "idea.restore", ...)``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from handlers.catalog import Catalog
from handlers.community import moderation, room_moderation
from handlers.experiments.triage import Proposals
from handlers.ideas.triage import Ideas
from handlers.staff import reporting

CATALOG = Catalog.load()
SOURCES = sorted(
    [*Path("handlers").rglob("*.py"), *Path("bot").rglob("*.py"), *Path("storage").rglob("*.py")]
)

#: Actions put together at run time, by the file and the f-string that makes them: what
#: they can be, from the same names the code uses.
MADE_AT_RUN_TIME: dict[tuple[str, str], set[str]] = {
    ("handlers/community/moderation.py", "f'{self.name}.{decision}'"): {
        f"{kind.name}.{decision}"
        for kind in (moderation.Comments, moderation.Ideas)
        for decision in kind.decisions
        if decision not in moderation.PERSONAL
    },
    ("handlers/community/room_moderation.py", "f'room.{decision}'"): {
        f"{room_moderation.RoomMessages.name}.{decision}" for decision in moderation.DECISIONS
    },
    ("handlers/review.py", "f'{self.name}.reopen'"): {
        f"{kind.name}.reopen" for kind in (Ideas, Proposals)
    },
    ("handlers/review.py", "f'{self.name}.status'"): {
        f"{kind.name}.status" for kind in (Ideas, Proposals)
    },
    ("handlers/staff/reporting.py", "f'{subject.kind.value}.auto_hide'"): {
        f"{kind}.auto_hide" for kind in reporting.SUBJECTS
    },
}


class Unknown(Exception):
    """An action the scan cannot follow: the test says where, so it can be taught."""


@cache
def _tree(path: Path) -> ast.Module:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.parent = node  # type: ignore[attr-defined]
    return tree


def _enclosing(node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    while (node := getattr(node, "parent", None)) is not None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
    return None


def _calls(path: Path) -> Iterator[ast.Call]:
    yield from (node for node in ast.walk(_tree(path)) if isinstance(node, ast.Call))


def _named(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _is_audit_record(call: ast.Call) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr != "record":
        return False
    owner = func.value
    return (isinstance(owner, ast.Attribute) and owner.attr == "audit") or (
        isinstance(owner, ast.Name) and owner.id == "audit"
    )


def _argument(
    call: ast.Call, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str
) -> ast.expr | None:
    """What ``call`` passes for ``function``'s parameter ``name``, or None."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    positional = [a.arg for a in function.args.posonlyargs + function.args.args]
    if positional and positional[0] in ("self", "cls") and isinstance(call.func, ast.Attribute):
        positional = positional[1:]
    if name in positional and positional.index(name) < len(call.args):
        return call.args[positional.index(name)]
    return None


def _actions(path: Path, node: ast.expr) -> set[str]:
    """Every action ``node`` (an action argument in ``path``) can be."""
    where = f"{path}:{node.lineno}"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _actions(path, node.body) | _actions(path, node.orelse)
    if isinstance(node, ast.JoinedStr):
        made = MADE_AT_RUN_TIME.get((path.as_posix(), ast.unparse(node)))
        if made is None:
            raise Unknown(f"{where}: {ast.unparse(node)} is made at run time: add what it can be")
        return made
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        for top in _tree(path).body:  # a table of actions: PERSONAL_AUDIT[decision]
            if (
                isinstance(top, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == node.value.id for t in top.targets)
                and isinstance(top.value, ast.Dict)
            ):
                return set().union(*(_actions(path, v) for v in top.value.values))
    if isinstance(node, ast.Name):
        function = _enclosing(node)
        if function is not None:
            params = function.args.posonlyargs + function.args.args + function.args.kwonlyargs
            if node.id in (a.arg for a in params):
                return _passed(path, function, node.id)
            assigned = [
                a.value
                for a in ast.walk(function)
                if isinstance(a, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == node.id for t in a.targets)
            ]
            if assigned:
                return set().union(*(_actions(path, value) for value in assigned))
    raise Unknown(f"{where}: cannot tell which action {ast.unparse(node)} is")


def _passed(path: Path, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> set[str]:
    """The actions every caller passes to ``function`` (private ones: in the same file)."""
    callers = [path] if function.name.startswith("_") else SOURCES
    found: set[str] = set()
    for source in callers:
        for call in _calls(source):
            if _named(call) == function.name and not _is_audit_record(call):
                argument = _argument(call, function, name)
                if argument is not None:
                    found |= _actions(source, argument)
    if not found:
        raise Unknown(f"{path}:{function.lineno}: nobody passes {name} to {function.name}")
    return found


def recorded_actions() -> set[str]:
    """Every action the code can write to the audit log."""
    found: set[str] = set()
    for path in SOURCES:
        for call in _calls(path):
            if _is_audit_record(call):
                action = (
                    call.args[0]
                    if call.args
                    else next(k.value for k in call.keywords if k.arg == "action")
                )
                found |= _actions(path, action)
    return found


def test_every_action_the_code_records_has_words_in_every_catalog() -> None:
    actions = recorded_actions()
    # The scan is out of date if it no longer finds what these write (a literal, one passed on
    # through announce, one made at run time from a table or an f-string).
    assert {"budget.open", "idea.restore", "user.warn", "comment.keep", "idea.auto_hide"} <= (
        actions
    )
    missing = {
        f"{lang}: {action}"
        for lang in CATALOG.languages
        for action in actions
        if f"oversight.actions.{action}" not in CATALOG.texts[lang]
    }
    assert sorted(missing) == []


def test_the_catalogs_name_no_action_the_code_does_not_record() -> None:
    actions = recorded_actions()
    named = {
        key.removeprefix("oversight.actions.")
        for key in CATALOG.texts["nl"]
        if key.startswith("oversight.actions.")
    }
    assert sorted(named - actions) == []
