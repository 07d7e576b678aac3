"""The table of the conversation: every step, what it expects, and where /batal goes from it.

One row per `StepName`: the step's class (its question and how it reads the answer), the file
it waits for (if any), whether it registers (refused once registration is closed), what
/batal says and where it goes (no entry: "nothing to cancel"), and whether typed text there may
be a question to answer (not where it is content: a report, a broadcast, staff's flows). The
dispatcher (`handlers/conversation.py`) reads only this table; no step is special-cased there.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from handlers.applicant.documents import DocumentsStep
from handlers.applicant.link import ConfirmLinkStep, SharePhoneStep
from handlers.applicant.menu import MenuStep, WelcomeStep
from handlers.applicant.mydata import DeleteConfirmStep, MyDataStep
from handlers.applicant.profile_steps import EditPickStep, FieldStep, NikCheckStep, SummaryStep
from handlers.applicant.registration import (
    ConsentStep,
    EligibilityStep,
    GuardianStep,
    IneligibleStep,
)
from handlers.applicant.sobat import AccountStep, EmailStep, GuideStep, ReportStep, StuckStep
from handlers.flow import Cancel, Expects, Registers, StepName, StepSpec
from handlers.staff.broadcast_steps import (
    AudienceStep,
    ChannelStep,
    ComposeStep,
    ConfirmStep,
    KecamatanStep,
    StageStep,
)
from handlers.staff.result_steps import ConfirmImportStep, PublishStep, UploadStep
from storage.models import Applicant, ChatSession

PAUSE = Cancel("registration_paused", StepName.MENU)
"""/batal in the middle of registering: the answers so far stay, the menu comes back."""

FLOW: Mapping[StepName, StepSpec] = MappingProxyType(
    {
        # First contact and the menu (information pages are shown at the menu step).
        StepName.NEW: StepSpec(WelcomeStep(), questions=False),
        StepName.MENU: StepSpec(MenuStep()),
        StepName.LINK_PHONE: StepSpec(SharePhoneStep()),
        StepName.LINK_CONFIRM: StepSpec(ConfirmLinkStep()),
        # Registration: consent, the self-check, the profile, the documents, the summary.
        StepName.CONSENT: StepSpec(ConsentStep(), registers=Registers.YES, cancel=PAUSE),
        StepName.ELIGIBILITY: StepSpec(EligibilityStep(), registers=Registers.YES, cancel=PAUSE),
        StepName.INELIGIBLE: StepSpec(IneligibleStep(), registers=Registers.YES, cancel=PAUSE),
        StepName.GUARDIAN: StepSpec(GuardianStep(), registers=Registers.YES, cancel=PAUSE),
        StepName.FIELD: StepSpec(
            FieldStep(),
            registers=Registers.YES,
            cancel=PAUSE,
            cancel_edit=Cancel("edit_cancelled", StepName.SUMMARY),
        ),
        StepName.NIK_CHECK: StepSpec(NikCheckStep(), registers=Registers.YES, cancel=PAUSE),
        StepName.DOCUMENTS: StepSpec(
            DocumentsStep(),
            expects=Expects.DOCUMENT,
            registers=Registers.UNLESS_ASKED_AGAIN,
            cancel=PAUSE,
        ),
        StepName.SUMMARY: StepSpec(SummaryStep(), registers=Registers.UNTIL_NUMBERED, cancel=PAUSE),
        StepName.EDIT_PICK: StepSpec(EditPickStep(), registers=Registers.YES, cancel=PAUSE),
        # The applicant's own data.
        StepName.MY_DATA: StepSpec(MyDataStep()),
        StepName.DELETE_CONFIRM: StepSpec(
            DeleteConfirmStep(), cancel=Cancel("delete_cancelled", StepName.MENU)
        ),
        # The SOBAT guide.
        StepName.SOBAT_ACCOUNT: StepSpec(AccountStep()),
        StepName.SOBAT_EMAIL: StepSpec(EmailStep()),
        StepName.SOBAT_STEP: StepSpec(GuideStep()),
        StepName.SOBAT_STUCK: StepSpec(StuckStep()),
        StepName.SOBAT_REPORT: StepSpec(ReportStep(), questions=False),
        # Staff: a broadcast.
        StepName.BC_COMPOSE: StepSpec(ComposeStep(), expects=Expects.ATTACHMENT, questions=False),
        StepName.BC_AUDIENCE: StepSpec(AudienceStep(), questions=False),
        StepName.BC_STAGE: StepSpec(StageStep(), questions=False),
        StepName.BC_KECAMATAN: StepSpec(KecamatanStep(), questions=False),
        StepName.BC_CHANNEL: StepSpec(ChannelStep(), questions=False),
        StepName.BC_CONFIRM: StepSpec(ConfirmStep(), questions=False),
        # Staff: selection results.
        StepName.RES_UPLOAD: StepSpec(UploadStep(), expects=Expects.RESULTS_TABLE, questions=False),
        StepName.RES_CONFIRM: StepSpec(ConfirmImportStep(), questions=False),
        StepName.RES_PUBLISH: StepSpec(PublishStep(), questions=False),
    }
)


def spec_of(chat: ChatSession) -> StepSpec:
    """The table's row for the step the chat is at."""
    return FLOW[StepName(chat.step)]


def in_registration(chat: ChatSession, applicant: Applicant | None) -> bool:
    """True at a step that registers or changes the registration (refused once it is closed)."""
    registers = spec_of(chat).registers
    if registers is Registers.UNLESS_ASKED_AGAIN:
        asked = {d.kind for d in applicant.documents if d.needs_resend} if applicant else set()
        return chat.data.get("doc") not in asked
    return registers is Registers.YES or (
        registers is Registers.UNTIL_NUMBERED
        and (applicant is None or applicant.registration_number is None)
    )
