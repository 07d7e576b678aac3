"""`mitrabot questions …`: the inbox of typed questions, answers, and phrasings for the FAQ."""

from __future__ import annotations

import argparse

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.cli_support import app_command, operator, printed_command, say
from services.faq import topics_of
from services.questions import (
    Learned,
    answer_question,
    inbox_text,
    learn_phrasing,
    learned_phrasings,
)


def add_question_commands(commands: argparse._SubParsersAction) -> None:
    """Register `mitrabot questions` and its subcommands."""
    questions = commands.add_parser(
        "questions", help="questions applicants typed that were handed to staff"
    ).add_subparsers()
    listing = questions.add_parser("list", help="the open questions, oldest first")
    listing.add_argument("--lang", choices=("id", "en"), default="id")
    listing.set_defaults(action=_list)
    answer = questions.add_parser("answer", help="answer a question (sent to the asker's chat)")
    answer.add_argument("id", type=int, help="the question number")
    answer.add_argument("--text", required=True, help="the answer the applicant reads")
    answer.set_defaults(action=_answer)
    learn = questions.add_parser(
        "learn", help="make a question's words a phrasing of a FAQ topic of the config"
    )
    learn.add_argument("id", type=int, help="the question number")
    learn.add_argument("--topic", required=True, help="the FAQ or SOBAT-fix key it belongs to")
    learn.add_argument("--text", help="the phrasing, if not the question's own words")
    learn.set_defaults(action=_learn)
    phrasings = questions.add_parser(
        "phrasings", help="the phrasings staff added (to copy into the recruitment file)"
    )
    phrasings.set_defaults(action=_phrasings)


@printed_command
async def _list(app: App, session: AsyncSession, args: argparse.Namespace) -> str:
    return await inbox_text(session, app.config, app.conversation.deps.catalog, args.lang)


@app_command
async def _answer(app: App, args: argparse.Namespace) -> int:
    deps = app.conversation.deps
    text, now = args.text.strip(), deps.clock.now()
    async with app.db.transaction() as session:
        question = await answer_question(
            session, app.config, deps.catalog, args.id, text, operator(), now
        )
    if question is None:
        say("staff_answer_not_found", id=args.id)
        return 1
    say("staff_answer_sent", id=args.id)
    return 0


@app_command
async def _learn(app: App, args: argparse.Namespace) -> int:
    now = app.conversation.deps.clock.now()
    async with app.db.transaction() as session:
        learned = await learn_phrasing(
            session, app.config, args.id, args.topic, operator(), now, args.text
        )
    if learned is Learned.NO_QUESTION:
        say("staff_answer_not_found", id=args.id)
    elif learned is Learned.NO_TOPIC:
        topics = ", ".join(topic.key for topic in topics_of(app.config))
        say("learned_no_topic", topic=args.topic, topics=topics)
    else:
        say(f"learned_{learned.value}", id=args.id, topic=args.topic)
    return 0 if learned in (Learned.ADDED, Learned.KNOWN) else 1


@printed_command
async def _phrasings(app: App, session: AsyncSession, args: argparse.Namespace) -> str:
    return "\n".join(f"{topic}: {text}" for topic, text in await learned_phrasings(session))
