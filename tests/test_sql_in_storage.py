"""All SQL lives in `storage/`: product code elsewhere calls repository methods, never builds a
query or runs one on the session itself."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE_STORAGE = ("core", "services", "handlers", "scheduler", "bot")
ALLOWED_SQLALCHEMY = {"sqlalchemy.ext.asyncio", "sqlalchemy.exc", "sqlalchemy.orm.exc"}
"""The session's type (to pass it on) and the errors a unit of work may have to catch."""
QUERYING = {
    "execute",
    "scalar",
    "scalars",
    "stream",
    "stream_scalars",
    "get",
    "get_one",
    "add",
    "add_all",
    "delete",
    "merge",
    "refresh",
    "connection",
    "run_sync",
}
"""Session methods that read or write rows (flush, commit and rollback only end a unit of
work the caller opened)."""


def _offences(source: str) -> list[str]:
    """`line: what` for each SQLAlchemy import and each query run on a session."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        for module in modules:
            if module.split(".")[0] == "sqlalchemy" and module not in ALLOWED_SQLALCHEMY:
                found.append(f"{node.lineno}: imports {module}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in QUERYING
            and _is_session(node.func.value)
        ):
            found.append(f"{node.lineno}: session.{node.func.attr}(…)")
    return sorted(found, key=lambda offence: int(offence.split(":")[0]))


def _is_session(node: ast.expr) -> bool:
    """`session`, `turn.session`, `self.session`…"""
    if isinstance(node, ast.Name):
        return node.id == "session"
    return isinstance(node, ast.Attribute) and node.attr == "session"


def test_product_code_outside_storage_runs_no_sql() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{offence}"
        for folder in OUTSIDE_STORAGE
        for path in sorted((ROOT / folder).rglob("*.py"))
        for offence in _offences(path.read_text())
    ]
    assert offenders == [], "add a repository method in storage/ instead:\n" + "\n".join(offenders)


def test_the_scan_sees_a_query() -> None:
    """The scan itself: a query built and run outside storage is caught."""
    sample = (
        "from sqlalchemy import select\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "async def f(turn, session: AsyncSession):\n"
        "    await turn.session.execute(select(1))\n"
        "    await session.get(object, 1)\n"
        "    await session.flush()\n"
        "    await Applicants(session).get(1)\n"
    )
    assert _offences(sample) == [
        "1: imports sqlalchemy",
        "4: session.execute(…)",
        "5: session.get(…)",
    ]
