"""The staff desk's funnel and applicant list, on SQLite and PostgreSQL, over a known population."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from core.applicant_filter import PAGE_SIZE, ApplicantFilter, SobatState, SortKey, StageFilter
from core.catalog import Catalog
from core.recruitment import RecruitmentConfig
from services.desk_views import (
    FilterError,
    applicant_page,
    export_xlsx,
    funnel,
    funnel_steps,
    registrations_per_day,
    registrations_per_kecamatan,
)
from services.profile import profile_complete
from storage.db import Database
from storage.models import (
    Applicant,
    ChatIdentity,
    DocumentFile,
    SobatProgress,
    StageResult,
)

DAY_ONE = datetime(2023, 11, 1, 3, 0, tzinfo=UTC)
"""1 November 2023, 10.00 WIB."""
LATE_EVENING = datetime(2023, 11, 1, 17, 30, tzinfo=UTC)
"""2 November 2023, 00.30 WIB: the next day in WIB, the same day in UTC."""
DAY_THREE = datetime(2023, 11, 3, 2, 0, tzinfo=UTC)
ALL_DOCUMENTS = ("photo", "ktp", "diploma")
NIK_EKA = "3528015708950005"


@dataclass
class Person:
    """One seeded applicant: how far they got."""

    name: str | None
    started: datetime = DAY_ONE
    consent: bool = True
    eligibility: str = "yes"
    """yes (every required item), partial (the first only), or no (the first failed)."""
    profile: bool = True
    missing: tuple[str, ...] = ()
    kecamatan: str = "35.28.03"
    documents: tuple[str, ...] = ()
    number: str | None = None
    registered: datetime | None = None
    channels: tuple[str, ...] = ("telegram",)
    sobat_path: str | None = None
    sobat: dict[str, str] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)
    nik: str | None = None


def _registered(number: int, **extra: object) -> Person:
    values: dict[str, object] = {
        "documents": ALL_DOCUMENTS,
        "number": f"PMK24-{number:05d}",
        "registered": DAY_THREE,
        "kecamatan": "35.28.01",
    }
    return Person(**{**values, **extra})  # type: ignore[arg-type]


POPULATION: dict[str, Person] = {
    "ani": Person("Ani Lestari", consent=False, eligibility="none", profile=False),
    "budi": Person(None, eligibility="partial", profile=False, channels=("whatsapp",)),
    "citra": Person(
        "Citra Dewi", started=LATE_EVENING, missing=("phone", "email"), kecamatan="35.28.02"
    ),
    "dedi": Person("Dedi Kurnia", documents=("photo", "ktp"), channels=("terminal",)),
    "eka": _registered(
        1,
        name="Eka Putri",
        nik=NIK_EKA,
        channels=("telegram", "whatsapp"),
        sobat_path="new",
        sobat={"register": "done", "enrol": "done"},
        results={"1": "passed", "2": "passed", "3": "passed", "final": "passed"},
    ),
    "fajar": _registered(
        2,
        name="Fajar Nugroho",
        kecamatan="35.28.02",
        sobat_path="existing",
        sobat={"profile": "stuck"},
        results={"1": "passed", "2": "not_passed"},
    ),
    "gita": _registered(
        3, name="=SUM(1)", kecamatan="luar", sobat_path="new", results={"1": "not_passed"}
    ),
    "hadi": _registered(
        4, name="Hadi Santoso", documents=("photo", "ktp"), results={"1": "pending"}
    ),
    "indah": Person("Indah Sari", eligibility="no", profile=False),
}


def _applicant(config: RecruitmentConfig, serial: int, person: Person) -> Applicant:
    required = [str(item.number) for item in config.required_items]
    eligibility = {
        "yes": dict.fromkeys(required, True),
        "partial": {required[0]: True},
        "no": {required[0]: False},
        "none": {},
    }[person.eligibility]
    applicant = Applicant(
        created_at=person.started,
        updated_at=person.started,
        eligibility=eligibility,
        consent_at=person.started if person.consent else None,
        consent_version="v2" if person.consent else None,
        full_name=person.name,
        registration_number=person.number,
        confirmed_at=person.registered,
        sobat_path=person.sobat_path,
    )
    if person.profile:
        answers = {
            "nik": person.nik or f"35280157089500{serial:02d}",
            "birth_place": "Pamekasan",
            "birth_date": date(1995, 8, 17),
            "sex": "P",
            "address": "Desa Tlanakan",
            "kecamatan": person.kecamatan,
            "phone": f"0812000000{serial:02d}",
            "email": f"orang{serial}@example.com",
            "education": "sma",
            "experience": True,
            "gadget": True,
            "motorbike": False,
        }
        for name, value in answers.items():
            if name not in person.missing:
                setattr(applicant, name, value)
    for channel in person.channels:
        applicant.identities.append(
            ChatIdentity(channel=channel, external_id=f"{serial}{channel}", created_at=DAY_ONE)
        )
    for kind in person.documents:
        applicant.documents.append(
            DocumentFile(
                kind=kind,
                sha256=f"{serial:02d}{kind}".ljust(64, "0"),
                path=f"{serial}-{kind}.jpg",
                mime_type="image/jpeg",
                size=1000,
                source="telegram",
                received_at=person.started,
            )
        )
    return applicant


async def _seed(db: Database, config: RecruitmentConfig) -> dict[str, int]:
    """The population in the database: {key: applicant id}."""
    ids = {}
    async with db.transaction() as session:
        for serial, (key, person) in enumerate(POPULATION.items(), 1):
            applicant = _applicant(config, serial, person)
            session.add(applicant)
            await session.flush()
            ids[key] = applicant.id
            for step, state in person.sobat.items():
                session.add(
                    SobatProgress(
                        applicant_id=applicant.id, step=step, state=state, updated_at=DAY_THREE
                    )
                )
            for stage, outcome in person.results.items():
                session.add(
                    StageResult(
                        applicant_id=applicant.id,
                        stage=stage,
                        outcome=outcome,
                        set_by="cli",
                        set_at=DAY_THREE,
                        source="cli",
                    )
                )
    return ids


@pytest.fixture
async def seeded(any_db: Database, config: RecruitmentConfig) -> tuple[Database, dict[str, int]]:
    return any_db, await _seed(any_db, config)


async def _listed(
    db: Database,
    config: RecruitmentConfig,
    catalog: Catalog,
    ids: dict[str, int],
    view: ApplicantFilter,
) -> list[str]:
    """The keys of the people the list shows for `view` (every page, in order)."""
    names = {applicant_id: key for key, applicant_id in ids.items()}
    found: list[str] = []
    async with db.transaction() as session:
        for page in range(1, 10):
            paged = view.model_copy(update={"page": page})
            shown = await applicant_page(session, config, catalog, paged)
            found += [names[row.applicant_id] for row in shown.rows]
            if page >= shown.pages:
                return found
    raise AssertionError("more pages than people")


async def _who(
    db: Database, config: RecruitmentConfig, catalog: Catalog, ids: dict[str, int], **view: object
) -> list[str]:
    """The keys of the people the list shows for a filter of these fields."""
    return await _listed(db, config, catalog, ids, ApplicantFilter(**view))


EXPECTED_FUNNEL = {
    "started": 9,
    "consented": 8,
    "eligible": 6,
    "profile_complete": 5,
    "documents_complete": 3,
    "registered": 4,
    "sobat_done": 1,
    "passed:1": 2,
    "passed:2": 1,
    "passed:3": 1,
    "passed:final": 1,
}


async def test_the_funnel_counts_each_step(
    seeded: tuple[Database, dict[str, int]], config: RecruitmentConfig, catalog: Catalog
) -> None:
    db, _ = seeded
    async with db.transaction() as session:
        steps = await funnel(session, config, catalog)
    assert {step.step: step.count for step in steps} == EXPECTED_FUNNEL
    assert [step.step for step in steps] == funnel_steps(config)
    labels = {step.step: step.label for step in steps}
    assert labels["passed:1"] == "Lulus Tahap 1 Seleksi Administrasi"
    assert labels["passed:final"] == "Calon mitra"
    assert labels["registered"] == "Terdaftar di bot"


async def test_every_funnel_number_is_the_length_of_its_list(
    seeded: tuple[Database, dict[str, int]], config: RecruitmentConfig, catalog: Catalog
) -> None:
    db, ids = seeded
    async with db.transaction() as session:
        steps = await funnel(session, config, catalog)
    for step in steps:
        async with db.transaction() as session:
            page = await applicant_page(session, config, catalog, step.view)
        assert page.total == step.count, step.step
        assert len(await _who(db, config, catalog, ids, step=step.step)) == step.count
    assert await _who(db, config, catalog, ids, step="eligible") == [
        "eka", "fajar", "gita", "hadi", "citra", "dedi"
    ]  # fmt: skip
    assert await _who(db, config, catalog, ids, step="passed:1") == ["eka", "fajar"]


async def test_the_filters_agree_with_the_chats_profile_and_document_rules(
    seeded: tuple[Database, dict[str, int]], config: RecruitmentConfig, catalog: Catalog
) -> None:
    db, ids = seeded
    listed = set(await _who(db, config, catalog, ids, step="profile_complete"))
    async with db.transaction() as session:
        for key, applicant_id in ids.items():
            applicant = await session.get(Applicant, applicant_id)
            assert applicant is not None
            assert profile_complete(applicant) == (key in listed), key
        page = await applicant_page(session, config, catalog, ApplicantFilter())
    rows = {row.applicant_id: row for row in page.rows}
    for document in config.documents:
        lacking = set(await _who(db, config, catalog, ids, missing_documents=(document.key,)))
        for key, applicant_id in ids.items():
            assert (document.key in rows[applicant_id].missing_documents) == (key in lacking)


async def test_registrations_per_day_in_wib(
    seeded: tuple[Database, dict[str, int]], config: RecruitmentConfig, catalog: Catalog
) -> None:
    db, ids = seeded
    async with db.transaction() as session:
        days = await registrations_per_day(session, config)
    assert [(d.day, d.started, d.registered) for d in days] == [
        (date(2023, 11, 1), 8, 0),
        (date(2023, 11, 2), 1, 0),
        (date(2023, 11, 3), 0, 4),
    ]
    assert await _listed(db, config, catalog, ids, days[1].started_view) == ["citra"]
    registered = await _listed(db, config, catalog, ids, days[2].registered_view)
    assert registered == ["eka", "fajar", "gita", "hadi"]


async def test_registrations_per_kecamatan_against_the_quota(
    seeded: tuple[Database, dict[str, int]], config: RecruitmentConfig, catalog: Catalog
) -> None:
    db, ids = seeded
    first = config.kecamatan[0].model_copy(update={"quota": 40})
    with_quota = config.model_copy(
        update={"quota": 100, "kecamatan": [first, *config.kecamatan[1:]]}
    )
    async with db.transaction() as session:
        tally = await registrations_per_kecamatan(session, with_quota, catalog)
    rows = {row.code: row for row in tally.rows}
    assert (tally.total, tally.quota) == (4, 100)
    assert (rows["35.28.01"].name, rows["35.28.01"].registered, rows["35.28.01"].quota) == (
        "Tlanakan",
        2,
        40,
    )
    assert (rows["35.28.02"].registered, rows["35.28.02"].quota) == (1, None)
    assert (rows["luar"].name, rows["luar"].registered) == ("Luar Kabupaten Pamekasan", 1)
    assert rows["35.28.03"].registered == 0  # Dedi lives there but has not registered
    assert len(tally.rows) == len(config.kecamatan) + 1
    listed = await _listed(db, config, catalog, ids, rows["35.28.01"].view)
    assert listed == ["eka", "hadi"]


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ({"search": "ani"}, ["ani"]),
        ({"search": "  ANI  "}, ["ani"]),
        ({"search": "00002"}, ["fajar"]),
        ({"search": "pmk24-00003"}, ["gita"]),
        ({"search": NIK_EKA}, ["eka"]),
        ({"search": NIK_EKA[:15]}, []),
        ({"search": "%"}, []),
        ({"kecamatan": "35.28.02"}, ["fajar", "citra"]),
        ({"kecamatan": "luar"}, ["gita"]),
        ({"stage": StageFilter(stage="1", outcome="passed")}, ["eka", "fajar"]),
        ({"stage": StageFilter(stage="1", outcome="not_passed")}, ["gita"]),
        ({"stage": StageFilter(stage="1", outcome="pending")}, ["hadi"]),
        ({"stage": StageFilter(stage="2", outcome="not_passed")}, ["fajar"]),
        ({"stage": StageFilter(stage="final", outcome="passed")}, ["eka"]),
        (
            {"stage": StageFilter(stage="1", outcome="none")},
            ["ani", "budi", "citra", "dedi", "indah"],
        ),
        ({"missing_fields": ("email",)}, ["ani", "budi", "citra", "indah"]),
        ({"missing_fields": ("email",), "consent": "given"}, ["budi", "citra", "indah"]),
        ({"missing_documents": ("diploma",)}, ["hadi", "ani", "budi", "citra", "dedi", "indah"]),
        ({"missing_documents": ("diploma",), "step": "registered"}, ["hadi"]),
        ({"missing_documents": ("photo", "ktp")}, ["ani", "budi", "citra", "indah"]),
        ({"sobat": SobatState.ENROLLED}, ["eka"]),
        ({"sobat": SobatState.STUCK}, ["fajar"]),
        ({"sobat": SobatState.STARTED}, ["gita"]),
        ({"sobat": SobatState.NOT_STARTED, "step": "registered"}, ["hadi"]),
        ({"channel": "whatsapp"}, ["eka", "budi"]),
        ({"channel": "terminal"}, ["dedi"]),
        ({"consent": "none"}, ["ani"]),
    ],
)
async def test_each_filter_shows_exactly_its_people(
    seeded: tuple[Database, dict[str, int]],
    config: RecruitmentConfig,
    catalog: Catalog,
    view: dict[str, object],
    expected: list[str],
) -> None:
    db, ids = seeded
    assert await _who(db, config, catalog, ids, **view) == expected


@pytest.mark.parametrize(
    ("sort", "descending", "expected"),
    [
        (SortKey.NUMBER, False, ["eka", "fajar", "gita", "hadi", "ani", "budi"]),
        (SortKey.NUMBER, True, ["hadi", "gita", "fajar", "eka", "ani", "budi"]),
        (SortKey.NAME, False, ["ani", "citra", "dedi", "eka", "fajar", "hadi", "indah", "budi"]),
        (SortKey.NAME, True, ["indah", "hadi", "fajar", "eka", "dedi", "citra", "ani", "budi"]),
        (SortKey.KECAMATAN, False, ["dedi", "gita", "citra", "fajar", "eka", "hadi"]),
        (SortKey.REGISTERED_AT, True, ["eka", "fajar", "gita", "hadi", "ani", "budi"]),
    ],
)
async def test_sorting_puts_empty_values_last(
    seeded: tuple[Database, dict[str, int]],
    config: RecruitmentConfig,
    catalog: Catalog,
    sort: SortKey,
    descending: bool,
    expected: list[str],
) -> None:
    db, ids = seeded
    found = await _who(db, config, catalog, ids, sort=sort, descending=descending)
    assert len(found) == len(POPULATION)
    if sort is SortKey.NAME:  # where "=SUM(1)" goes depends on the database's collation
        found.remove("gita")
    assert found[: len(expected)] == expected


async def test_a_row_shows_what_a_list_shows_and_no_personal_number(
    seeded: tuple[Database, dict[str, int]], config: RecruitmentConfig, catalog: Catalog
) -> None:
    db, ids = seeded
    async with db.transaction() as session:
        page = await applicant_page(session, config, catalog, ApplicantFilter())
    rows = {row.applicant_id: row for row in page.rows}
    eka, dedi, citra = rows[ids["eka"]], rows[ids["dedi"]], rows[ids["citra"]]
    assert (eka.name, eka.registration_number, eka.kecamatan) == (
        "Eka Putri",
        "PMK24-00001",
        "Tlanakan",
    )
    assert eka.channels == ["telegram", "whatsapp"]
    assert (eka.missing_fields, eka.missing_documents) == ([], [])
    assert eka.results == {"1": "passed", "2": "passed", "3": "passed", "final": "passed"}
    assert (eka.sobat, eka.registered_at) == (SobatState.ENROLLED, DAY_THREE)
    assert dedi.missing_documents == ["diploma"]
    assert dedi.registered_at is None
    assert citra.missing_fields == ["phone", "email"]
    assert rows[ids["gita"]].kecamatan == "Luar Kabupaten Pamekasan"
    assert rows[ids["budi"]].kecamatan is None
    shown = " ".join(str(value) for row in page.rows for value in vars(row).values())
    assert NIK_EKA not in shown
    assert "081200000005" not in shown
    assert "@example.com" not in shown


async def test_pages_of_fifty_cover_everyone_once(
    any_db: Database, config: RecruitmentConfig, catalog: Catalog
) -> None:
    async with any_db.transaction() as session:
        for n in range(2 * PAGE_SIZE + 20):
            session.add(Applicant(created_at=DAY_ONE + timedelta(minutes=n), updated_at=DAY_ONE))
    seen: list[int] = []
    async with any_db.transaction() as session:
        for number in (1, 2, 3, 4):
            page = await applicant_page(session, config, catalog, ApplicantFilter(page=number))
            assert (page.total, page.pages, page.page) == (2 * PAGE_SIZE + 20, 3, number)
            assert len(page.rows) == {1: PAGE_SIZE, 2: PAGE_SIZE, 3: 20, 4: 0}[number]
            seen += [row.applicant_id for row in page.rows]
    assert len(seen) == len(set(seen)) == 2 * PAGE_SIZE + 20
    assert seen == sorted(seen)  # nobody has a number yet: by id


async def test_the_export_holds_every_row_of_the_view_made_inert(
    seeded: tuple[Database, dict[str, int]], config: RecruitmentConfig, catalog: Catalog
) -> None:
    db, _ = seeded
    async with db.transaction() as session:
        content, count = await export_xlsx(
            session, config, catalog, ApplicantFilter(step="registered", page=2)
        )
    sheet = load_workbook(io.BytesIO(content)).active
    lines = [[cell.value for cell in line] for line in sheet.iter_rows()]
    assert count == 4
    assert lines[0][:3] == ["No. Registrasi", "Nama", "Kecamatan"]
    assert [line[0] for line in lines[1:]] == [f"PMK24-{n:05d}" for n in (1, 2, 3, 4)]
    assert lines[3][1] == "'=SUM(1)"
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)
    assert lines[2][5] == "Tahap 1: lulus; Tahap 2: tidak lulus"
    assert lines[4][4] == "Ijazah tertinggi"
    assert lines[1][8] == "3 November 2023, 09.00 WIB"


def test_a_filter_survives_being_stored() -> None:
    view = ApplicantFilter(
        search=NIK_EKA,
        stage=StageFilter(stage="2", outcome="none"),
        missing_documents=("ktp",),
        sobat=SobatState.STUCK,
        registered_on=date(2023, 11, 3),
        sort=SortKey.KECAMATAN,
        descending=True,
        page=3,
    )
    assert ApplicantFilter.model_validate_json(view.model_dump_json()) == view
    assert ApplicantFilter.model_validate(view.model_dump(mode="json")) == view


@pytest.mark.parametrize(
    "view",
    [
        {"step": "passed:4"},
        {"stage": StageFilter(stage="7", outcome="passed")},
        {"kecamatan": "99.99.99"},
        {"missing_fields": ("shoe_size",)},
        {"missing_documents": ("passport",)},
    ],
)
async def test_a_filter_naming_what_the_recruitment_lacks_is_refused(
    db: Database, config: RecruitmentConfig, catalog: Catalog, view: dict[str, object]
) -> None:
    async with db.transaction() as session:
        with pytest.raises(FilterError):
            await applicant_page(session, config, catalog, ApplicantFilter(**view))
