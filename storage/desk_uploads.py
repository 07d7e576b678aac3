"""Results files uploaded on the desk, kept per session between the dry run and applying."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DeskUpload


class DeskUploads:
    """A session's uploaded results file (at most one), under an opaque id."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace(
        self,
        upload_id: str,
        session_hash: str,
        stage: str,
        file_name: str,
        content: bytes,
        now: datetime,
    ) -> None:
        """Keep `content` under `upload_id`, removing the session's earlier upload."""
        await self.session.execute(
            delete(DeskUpload).where(DeskUpload.session_hash == session_hash)
        )
        self.session.add(
            DeskUpload(
                id=upload_id,
                session_hash=session_hash,
                stage=stage,
                file_name=file_name,
                content=content,
                created_at=now,
            )
        )
        await self.session.flush()

    async def get(self, upload_id: str, session_hash: str) -> DeskUpload | None:
        """The upload kept under `upload_id` for this session (None: another session's, or
        applied, cancelled or ended with its session)."""
        query = select(DeskUpload).where(
            DeskUpload.id == upload_id, DeskUpload.session_hash == session_hash
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def remove(self, upload_id: str, session_hash: str) -> None:
        """Forget the upload (no error when it is already gone)."""
        await self.session.execute(
            delete(DeskUpload).where(
                DeskUpload.id == upload_id, DeskUpload.session_hash == session_hash
            )
        )
