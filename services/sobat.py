"""The official registration on SOBAT, as the bot follows it."""

from __future__ import annotations

from core.recruitment import RecruitmentConfig


def enrolment_steps(config: RecruitmentConfig) -> set[str]:
    """The last step of each path (enrolling in the activity): marked done, the applicant has
    registered on SOBAT, the official registration."""
    return {config.sobat.new_account[-1].key, config.sobat.existing_account[-1].key}
