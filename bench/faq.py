"""Typed questions: how the bot reads the labelled set of `tests/faq_set.py`.

    python bench/faq.py            # the figures, and the time per message
    python bench/faq.py --misses   # also every question not answered right, with its verdict

Prints top-1 accuracy on the questions answered, the share of wrong answers among all questions
(target < 5 %), the offer and handover rates, the false-question rate on ordinary answers (target
< 2 %), and the time per message over 200 messages of the set (target < 5 ms). Exit status 0
whether or not the targets are met; the figures say it (tests/test_faq.py asserts them).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.recruitment import load_recruitment
from services.faq import Verdict, faq_index, topics_of
from tests.faq_set import HANDOVER, ORDINARY, QUESTIONS

TIMED = 200
ROUNDS = 5


def _share(part: int, whole: int) -> str:
    return f"{part:4d} / {whole:<4d} {100 * part / whole:5.1f} %" if whole else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--misses", action="store_true", help="list what was not answered right")
    args = parser.parse_args()
    config = load_recruitment()
    started = time.perf_counter()
    index = faq_index(config)
    built = time.perf_counter() - started
    entries = sum(len(topic.texts) for topic in topics_of(config))

    messages = ([text for text, _ in QUESTIONS] + ORDINARY)[:TIMED]
    started = time.perf_counter()
    for text in messages:  # the first time: every word of them stemmed for the first time
        index.read(text)
    cold = (time.perf_counter() - started) / len(messages) * 1000

    counts = dict.fromkeys(("right", "wrong", "offer_right", "offer", "handover"), 0)
    misses = []
    for text, label in QUESTIONS:
        reading = index.read(text)
        if reading.verdict is Verdict.ANSWER:
            counts["right" if reading.topics[0] == label else "wrong"] += 1
        elif reading.verdict is Verdict.OFFER:
            counts["offer"] += 1
            counts["offer_right"] += label in reading.topics
        else:
            counts["handover"] += reading.verdict is Verdict.HANDOVER
        if not (reading.verdict is Verdict.ANSWER and reading.topics[0] == label):
            misses.append((text, label, reading.verdict.value, ",".join(reading.topics)))
    taken = [text for text in ORDINARY if index.read(text).verdict is not Verdict.NONE]

    per_message = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for text in messages:
            index.read(text)
        per_message.append((time.perf_counter() - started) / len(messages) * 1000)

    total = len(QUESTIONS)
    answered = counts["right"] + counts["wrong"]
    unanswerable = sum(1 for _, label in QUESTIONS if label == HANDOVER)
    print(f"index: {len(topics_of(config))} topics, {entries} entries, built in {built:.2f} s")
    print(f"questions: {total} ({unanswerable} the config has no answer to); ordinary answers: "
          f"{len(ORDINARY)}")  # fmt: skip
    print(f"answered at once           {_share(answered, total)}")
    print(f"  top-1 accuracy           {_share(counts['right'], answered)}")
    print(f"  wrong answers (of all)   {_share(counts['wrong'], total)}   target < 5 %")
    print(f"two topics offered         {_share(counts['offer'], total)}")
    print(f"  right one among them     {_share(counts['offer_right'], counts['offer'])}")
    print(f"handed over (offered)      {_share(counts['handover'], total)}")
    print(f"false questions (ordinary) {_share(len(taken), len(ORDINARY))}   target < 2 %")
    warm = statistics.median(per_message)
    print(f"time per message           {warm:.3f} ms (median of {ROUNDS} rounds of "
          f"{len(messages)}; the first time {cold:.3f} ms)   target < 5 ms")  # fmt: skip
    if args.misses:
        for text, label, verdict, topics in misses:
            print(f"  {verdict:8} {topics:32} want {label:22} {text}")
    for text in taken:
        print(f"  taken for a question: {text}")


if __name__ == "__main__":
    main()
