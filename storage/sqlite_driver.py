"""SQLAlchemy's aiosqlite adapter with one thread hop per statement instead of four.

aiosqlite runs every call on its connection's own thread; SQLAlchemy's adapter makes four such
calls per statement (open a cursor, execute, fetch all rows, close the cursor), each a queue
put, a thread wake-up and a loop wake-up. This cursor does the four in one call on that thread:
same SQL, same transactions, same results, a quarter of the hops (the top cost of a
conversation turn on SQLite in a profile).
"""

from __future__ import annotations

import collections
import sqlite3
from types import ModuleType
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_


class _Outcome:
    """What a finished statement left on its cursor, read on the connection's thread."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, cursor: sqlite3.Cursor | None = None) -> None:
        self.arraysize = 1
        self.description = cursor.description if cursor is not None else None
        self.rowcount = cursor.rowcount if cursor is not None else -1
        self.lastrowid = cursor.lastrowid if cursor is not None else None

    def close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed on its thread."""


def _run(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> tuple[_Outcome, list[Any]]:
    """Execute, fetch and close on the connection's thread (one hop)."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return _Outcome(cursor), rows
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statements each take one trip to aiosqlite's thread."""

    __slots__ = ()
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Outcome()  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    def execute(self, operation: Any, parameters: Any = None) -> None:
        """Run one statement; its rows are kept for the fetch calls."""
        self._hop(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        """Run one statement for each parameter set."""
        self._hop(operation, seq_of_parameters, many=True)

    def _hop(self, operation: Any, parameters: Any, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        try:
            outcome, rows = await_(
                connection._execute(_run, connection._conn, operation, parameters, many)
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._cursor = outcome  # type: ignore[assignment]
        self._rows = collections.deque(rows)


class _OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module given to the engine (`module=`): aiosqlite, one hop per statement."""

    def __init__(self, aiosqlite_module: ModuleType = aiosqlite) -> None:
        super().__init__(aiosqlite_module, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> _OneHopConnection:
        """An aiosqlite connection under the one-hop adapter."""
        adapted = super().connect(*arg, **kw)
        return _OneHopConnection(self, adapted._connection)
