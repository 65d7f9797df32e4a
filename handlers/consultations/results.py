"""Results: the counts in words and as a PNG chart per question, for staff and respondents.

Residents see a question's counts only when at least the profile's threshold of people
answered it; staff see the overall counts at any time, and the breakdowns (per
neighbourhood, per language) as :mod:`~handlers.consultations.disclosure` allows them, the
same as the export and the open data, so that no answer can be worked back to a person.
Typed answers are shown only once staff approved them.
"""

from __future__ import annotations

from handlers.answers import excerpt
from handlers.catalog import Catalog
from handlers.charts import bar_chart
from handlers.consultations import disclosure
from handlers.consultations.shown import brand
from handlers.contract import Reply
from handlers.locales import name_in
from handlers.profile import Profile
from storage.consultations.model import Consultation, Question, QuestionKind, pick
from storage.consultations.tallies import NO_NEIGHBOURHOOD, SKIPPED, TEXT, Dimension, Results

#: Typed answers shown with the results (approved ones, newest first), and how much of each.
QUOTES = 3
QUOTED = 200


def threshold(profile: Profile) -> int:
    return disclosure.threshold(profile)


def phrase(catalog: Catalog, lang: str, key: str, **params: object) -> str:
    return catalog.text(lang, key, params, markup=False)


def answers_of(asked: Question) -> list[str]:
    """The answer codes of a question as counted: option numbers or scale values."""
    if asked.kind is QuestionKind.TEXT:
        return []
    return [str(value) for value in asked.choices()]


def label(asked: Question, answer: str, lang: str) -> str:
    """An answer code in words: the option's text, or a scale value with its end's words."""
    if asked.kind is QuestionKind.SCALE:
        value = int(answer)
        if value == 1:
            return f"1 ({pick(asked.low, lang)})"
        if value == 5:
            return f"5 ({pick(asked.high, lang)})"
        return answer
    return pick(asked.options[int(answer) - 1], lang)


def percent(count: int, total: int) -> int:
    return round(100 * count / total) if total else 0


def question_lines(
    consultation: Consultation,
    results: Results,
    lang: str,
    *,
    minimum: int,
    quotes: dict[int, list[str]] | None = None,
) -> list[Reply]:
    """Each question's counts in words; a question fewer than ``minimum`` people answered
    says so instead (``minimum=0`` shows everything)."""
    lines: list[Reply] = []
    for number, asked in enumerate(consultation.questions, start=1):
        answered = results.answered(number)
        lines.append(
            Reply(
                key="consultations.result_question",
                params={"number": number, "text": pick(asked.text, lang), "count": answered},
            )
        )
        if answered == 0 or answered < minimum:
            lines.append(Reply(key="consultations.result_too_few", params={"min": minimum}))
            continue
        for answer in answers_of(asked):
            count = results.get(number, answer)
            lines.append(
                Reply(
                    key="consultations.result_line",
                    params={
                        "label": label(asked, answer, lang),
                        "count": count,
                        "percent": percent(count, answered),
                    },
                )
            )
        if asked.kind is QuestionKind.TEXT:
            lines.append(
                Reply(
                    key="consultations.result_texts", params={"count": results.get(number, TEXT)}
                )
            )
            for text in (quotes or {}).get(number, []):
                lines.append(
                    Reply(key="consultations.result_quote", params={"text": excerpt(text, QUOTED)})
                )
        skipped = results.get(number, SKIPPED)
        if skipped:
            lines.append(
                Reply(
                    key="consultations.result_skipped",
                    params={"count": skipped, "percent": percent(skipped, answered)},
                )
            )
    return lines


def breakdown_lines(
    consultation: Consultation,
    results: Results,
    lang: str,
    *,
    profile: Profile,
    catalog: Catalog,
) -> list[Reply]:
    """Per question, the counts per neighbourhood and per language as
    :mod:`~handlers.consultations.disclosure` allows them: small groups counted together,
    no breakdown where that would still give one person's answer away."""
    minimum = threshold(profile)
    lines: list[Reply] = []
    for number, asked in enumerate(consultation.questions, start=1):
        if asked.kind is QuestionKind.TEXT or results.answered(number) == 0:
            continue
        lines.append(Reply(key="consultations.breakdown_question", params={"number": number}))
        codes = disclosure.counted_codes(asked)
        for shown in disclosure.breakdowns(results, number, codes, minimum):
            lines += _breakdown_lines(shown, asked, lang, profile=profile, catalog=catalog)
    return lines


def _breakdown_lines(
    shown: disclosure.Breakdown,
    asked: Question,
    lang: str,
    *,
    profile: Profile,
    catalog: Catalog,
) -> list[Reply]:
    dimension = shown.dimension.value
    if not shown.groups:
        return [Reply(key=f"consultations.breakdown_none_{dimension}")]
    withheld = phrase(catalog, lang, "consultations.breakdown_withheld")
    lines = [
        Reply(
            key="consultations.breakdown_group",
            params={
                "group": phrase(catalog, lang, f"consultations.breakdown_other_{dimension}")
                if group.other
                else group_name(shown.dimension, group.code, lang, profile, catalog),
                "count": group.size,
                "counts": withheld
                if group.counts is None
                else " · ".join(
                    f"{label(asked, answer, lang)} {group.counts[answer]}"
                    for answer in answers_of(asked)
                ),
            },
        )
        for group in shown.groups
    ]
    if shown.withheld:
        lines.append(Reply(key="consultations.breakdown_unanimous"))
    return lines


def group_name(
    dimension: Dimension, group: str, lang: str, profile: Profile, catalog: Catalog
) -> str:
    if dimension is Dimension.LANGUAGE:
        return name_in(group, lang)
    if group == NO_NEIGHBOURHOOD:
        return phrase(catalog, lang, "ideas.no_neighbourhood")
    hood = profile.neighbourhood(group)
    return hood.name(lang) if hood else group


def chart(
    consultation: Consultation,
    number: int,
    results: Results,
    lang: str,
    *,
    profile: Profile,
    catalog: Catalog,
) -> bytes | None:
    """A bar chart of one question's answers (PNG), readable in ``lang``; None for a typed
    question, which has no bars to draw."""
    asked = consultation.question(number)
    if asked is None or asked.kind is QuestionKind.TEXT:
        return None
    rows = [
        (label(asked, answer, lang), results.get(number, answer)) for answer in answers_of(asked)
    ]
    rows.append((phrase(catalog, lang, "consultations.btn_skip"), results.get(number, SKIPPED)))
    title = f"{number}. {pick(asked.text, lang)}"
    subtitle = phrase(
        catalog,
        lang,
        "consultations.chart_subtitle",
        brand=brand(profile, lang),
        title=pick(consultation.title, lang),
        count=results.answered(number),
    )
    heading = phrase(catalog, lang, "consultations.chart_heading")
    return bar_chart(title, subtitle, [(heading, rows)])


def overview_chart(
    consultation: Consultation,
    results: Results,
    lang: str,
    *,
    profile: Profile,
    catalog: Catalog,
    minimum: int = 0,
) -> bytes:
    """Every question in one chart (for staff, and for the export: ``minimum``, questions
    fewer people answered are left out)."""
    sections = []
    for number, asked in enumerate(consultation.questions, start=1):
        if asked.kind is QuestionKind.TEXT or results.answered(number) < minimum:
            continue
        rows = [
            (label(asked, answer, lang), results.get(number, answer))
            for answer in answers_of(asked)
        ]
        rows.append(
            (phrase(catalog, lang, "consultations.btn_skip"), results.get(number, SKIPPED))
        )
        sections.append((f"{number}. {pick(asked.text, lang)}", rows))
    subtitle = phrase(
        catalog,
        lang,
        "consultations.chart_subtitle",
        brand=brand(profile, lang),
        title=pick(consultation.title, lang),
        count=results.respondents,
    )
    return bar_chart(pick(consultation.title, lang), subtitle, sections)


def charted(consultation: Consultation, results: Results, minimum: int) -> list[int]:
    """The questions residents get a chart of: counted ones enough people answered."""
    return [
        number
        for number, asked in enumerate(consultation.questions, start=1)
        if asked.kind is not QuestionKind.TEXT and results.answered(number) >= max(1, minimum)
    ]


def for_respondents(
    consultation: Consultation,
    results: Results,
    lang: str,
    *,
    profile: Profile,
    quotes: dict[int, list[str]],
    charts: dict[int, int],
) -> list[Reply]:
    """What everyone who answered gets at closing: the counts in words, what the
    municipality will do with them, and a chart per question (``charts``: media ids)."""
    lines = question_lines(consultation, results, lang, minimum=threshold(profile), quotes=quotes)
    follow_up = pick(consultation.follow_up, lang)
    if follow_up:
        lines.append(Reply(key="consultations.follow_up", params={"text": follow_up}))
    # Staff's words (title, questions, answers, what will be done) in another language
    # than the reader's: as they were written, with the note that says so.
    written = [consultation.title, consultation.follow_up]
    written += [asked.text for asked in consultation.questions]
    replies = [
        Reply(
            key="consultations.results",
            params={
                "brand": brand(profile, lang),
                "title": pick(consultation.title, lang),
                "count": results.respondents,
            },
            parts=lines,
            original=any(texts and lang not in texts for texts in written),
        )
    ]
    for number, media_id in sorted(charts.items()):
        asked = consultation.question(number)
        assert asked is not None
        replies.append(
            Reply(
                key="consultations.chart_caption",
                params={"number": number, "text": pick(asked.text, lang)},
                photo_id=media_id,
            )
        )
    return replies
