"""Synthetic rows for the benchmarks' bulk inserts: an applicant's profile answers, a document."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from core.recruitment import RecruitmentConfig
from services.profile import PROFILE_FIELDS


def profile_values(config: RecruitmentConfig, i: int) -> dict[str, Any]:
    """Answers of applicant `i` for every profile field, in asking order (KeyError if a field is
    added)."""
    levels = config.education_levels
    values: dict[str, Any] = {
        "full_name": f"Pendaftar Bench {i}",
        "nik": f"3528{i:012d}",
        "birth_place": "Pamekasan",
        "birth_date": date(1985 + i % 20, 1 + i % 12, 1 + i % 28),
        "sex": "L" if i % 2 else "P",
        "address": f"Dusun {i % 97}, RT {i % 9 + 1}, Desa {i % 53}",
        "kecamatan": config.kecamatan[i % len(config.kecamatan)].code,
        "phone": f"08{i:010d}",
        "email": f"pendaftar{i}@example.com",
        "education": levels[i % len(levels)].key,
        "experience": i % 3 == 0,
        "gadget": True,
        "motorbike": i % 4 != 0,
    }
    return {name: values[name] for name in PROFILE_FIELDS}


def document_row(i: int, kind: str, at: datetime) -> dict[str, Any]:
    """A `documents` row of applicant `i` (a JPEG of a made-up hash)."""
    sha = hashlib.sha256(f"{i}:{kind}".encode()).hexdigest()
    return {
        "applicant_id": i,
        "kind": kind,
        "sha256": sha,
        "path": f"{sha[:2]}/{sha}.jpg",
        "mime_type": "image/jpeg",
        "size": 180_000 + i % 50_000,
        "width": 1600,
        "height": 1200,
        "pages": None,
        "source": "telegram",
        "received_at": at,
    }
