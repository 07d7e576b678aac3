"""How big a results table may be, and the check of an XLSX package before openpyxl opens it.

An XLSX is a zip of XML parts. openpyxl streams the worksheet in read-only mode, but it reads
the shared strings, the styles and the workbook part whole, and pads every row to its last
cell's column: a 3 MB file can hold a shared-strings table of millions of entries (1.4 GB and
minutes to load) or a cell at column XFD on every row. So before openpyxl sees the file, every
part is streamed through expat (constant memory), with each part's bytes read with a cap at the
size its zip header declares, and the file is refused past any limit below. The same limits
hold in chat and on the command line (the caller reads at most `max_bytes + 1` bytes).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from xml.parsers import expat

__all__ = ["LIMITS", "TableLimits", "TableProblem", "check_columns", "check_xlsx"]

_CHUNK = 64 * 1024
_COLUMN = re.compile(r"([A-Za-z]{1,3})[0-9]*")
_BROKEN = (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError)
"""What zipfile raises for a corrupt, encrypted or oddly compressed entry."""


class TableProblem(Exception):
    """The file as a whole cannot be used (codes: see `services.result_table`)."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params: dict[str, object] = params


@dataclass(frozen=True)
class TableLimits:
    """The limits of one results table; `LIMITS` is what the bot applies."""

    max_bytes: int = 5 * 2**20
    """the file as sent (compressed, for XLSX)"""
    max_unpacked_bytes: int = 25 * 2**20
    """an XLSX's parts together, unpacked"""
    max_parts: int = 1000
    """files inside an XLSX"""
    max_rows: int = 5000
    """data rows (the title, the header and blank rows not counted)"""
    max_row_number: int = 50_000
    """the last spreadsheet row looked at, blank rows included"""
    max_columns: int = 200
    max_cells: int = 300_000
    """cells stored in the worksheets (blank ones need no storage)"""
    max_shared_strings: int = 100_000
    """entries of the XLSX shared-strings table"""
    max_part_elements: int = 50_000
    """XML elements of any other part (styles, workbook, …): openpyxl loads those whole"""

    @property
    def max_mb(self) -> int:
        """`max_bytes` in whole MB, as staff are told."""
        return self.max_bytes // 2**20


LIMITS = TableLimits()


def check_columns(line: int, width: int, limits: TableLimits) -> None:
    """Refuse a row (spreadsheet row `line`) that reaches past `limits.max_columns`."""
    if width > limits.max_columns:
        raise TableProblem("table_too_many_columns", line=line, limit=limits.max_columns)


def check_xlsx(content: bytes, limits: TableLimits) -> None:
    """Raise :class:`TableProblem` unless the XLSX `content` stays within `limits`.

    Nothing here builds more than one zip entry's chunk and a few counters in memory.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise TableProblem("table_unreadable") from exc
    with archive:
        members = [member for member in archive.infolist() if not member.is_dir()]
        if len(members) > limits.max_parts:
            raise TableProblem("table_too_complex")
        if sum(member.file_size for member in members) > limits.max_unpacked_bytes:
            raise TableProblem("table_too_big_unpacked", max_mb=limits.max_unpacked_bytes // 2**20)
        cells = _CellCount(limits)
        for member in members:
            try:
                _scan(archive, member, _PartScanner(limits, cells))
            except _BROKEN as exc:
                raise TableProblem("table_unreadable") from exc


def _scan(archive: zipfile.ZipFile, member: zipfile.ZipInfo, scanner: _PartScanner) -> None:
    """Feed one part to `scanner`, never more bytes than its header declares."""
    left = member.file_size
    with archive.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            left -= len(chunk)
            if left < 0:
                raise TableProblem("table_unreadable")  # a header that lies about the size
            if not scanner.feed(chunk):
                return  # not XML (a picture): no XML parser will load it
    scanner.feed(b"", final=True)


class _CellCount:
    """Cells seen across all worksheets of one file."""

    def __init__(self, limits: TableLimits) -> None:
        self.limits = limits
        self.count = 0

    def add(self) -> None:
        self.count += 1
        if self.count > self.limits.max_cells:
            raise TableProblem("table_too_many_cells", limit=self.limits.max_cells)


class _PartScanner:
    """Counts one XML part's elements as expat streams it; the root element says which
    limits apply: a worksheet's rows, columns and cells, the shared strings' entries, or the
    element budget of any other part."""

    def __init__(self, limits: TableLimits, cells: _CellCount) -> None:
        self.limits = limits
        self.cells = cells
        self.kind: str | None = None
        self.elements = 0
        self.max_elements = limits.max_part_elements
        self.strings = 0
        self.row = 0
        self.column = 0
        self.parser = expat.ParserCreate(namespace_separator=" ")
        self.parser.StartElementHandler = self._start
        self.parser.StartDoctypeDeclHandler = self._doctype
        self.parser.buffer_text = True

    def feed(self, chunk: bytes, *, final: bool = False) -> bool:
        """Parse the next bytes; False once the part turns out not to be XML."""
        try:
            self.parser.Parse(chunk, final)
        except expat.ExpatError:
            return False
        return True

    def _doctype(self, *_args: object) -> None:
        raise TableProblem("table_unreadable")  # no XLSX part has one; entities could explode

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        local = name.rpartition(" ")[2]
        if self.kind is None:
            self.kind = local
            if local == "worksheet":
                self.max_elements = 4 * self.limits.max_cells + self.limits.max_part_elements
            elif local == "sst":
                self.max_elements = 8 * self.limits.max_shared_strings
        self.elements += 1
        if self.elements > self.max_elements:
            raise TableProblem("table_too_complex")
        if self.kind == "worksheet":
            self._worksheet(local, attributes)
        elif self.kind == "sst" and local == "si":
            self.strings += 1
            if self.strings > self.limits.max_shared_strings:
                raise TableProblem("table_too_many_strings", limit=self.limits.max_shared_strings)

    def _worksheet(self, local: str, attributes: dict[str, str]) -> None:
        if local == "row":
            self.row = _number(attributes.get("r"), self.row + 1)
            self.column = 0
            if self.row > self.limits.max_row_number:
                raise TableProblem("table_too_long", limit=self.limits.max_row_number)
        elif local == "c":
            self.column = _column(attributes.get("r"), self.column + 1)
            check_columns(self.row, self.column, self.limits)
            self.cells.add()


def _number(text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        return int(text)
    except ValueError as exc:
        raise TableProblem("table_unreadable") from exc


def _column(reference: str | None, default: int) -> int:
    """The column number of a cell reference (`AB12` → 28)."""
    if reference is None:
        return default
    match = _COLUMN.fullmatch(reference)
    if match is None:
        raise TableProblem("table_unreadable")
    number = 0
    for letter in match.group(1).upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number
