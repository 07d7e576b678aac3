"""Benchmark: checking and storing document photos.

Reports, on this machine:
1. time to check and store one 4-megapixel photo (the bot's whole path: fetch from memory,
   check off the loop, hash, write), as a ratio to merely decoding the same JPEG with Pillow;
2. peak memory (RSS) while 20 uploads are checked at once, in a fresh process, against the same
   process holding the 20 files without checking them;
3. event-loop lag while those 20 uploads are checked: the longest gap a 5 ms ticker sees, against
   running the same checks directly on the loop (what would happen without threads).

Run: python bench/documents.py [--uploads 20] [--repeat 15]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image

from bot.recruitment import load_recruitment
from handlers.applicant.documents import prepare_upload
from handlers.document_check import check_document
from handlers.types import FileKind, IncomingFile
from storage.files import FileStore
from tests import images


class MemorySource:
    """Serves prepared bytes, as a platform download would."""

    def __init__(self, contents: dict[str, bytes]) -> None:
        self.contents = contents

    async def fetch(self, file: IncomingFile, max_bytes: int) -> bytes:
        return self.contents[file.file_id]


def photos(count: int) -> list[bytes]:
    """Distinct 4 MP JPEGs (distinct so that storing is never a no-op)."""
    base = Image.open(io.BytesIO(images.four_megapixel_photo()))
    result = []
    for n in range(count):
        variant = base.copy()
        variant.putpixel((n % variant.width, n // variant.width), (n % 256, 0, 0))
        buffer = io.BytesIO()
        variant.save(buffer, "JPEG", quality=90)
        result.append(buffer.getvalue())
    return result


async def one_photo_timing(repeat: int) -> tuple[list[float], list[float]]:
    config = load_recruitment()
    document = config.document_by_key("diploma")
    assert document is not None
    contents = photos(repeat)
    source = MemorySource({f"f{n}": content for n, content in enumerate(contents)})
    ours, decode_only = [], []
    with tempfile.TemporaryDirectory() as folder:
        store = FileStore(Path(folder))
        checks = asyncio.Semaphore(4)
        for n, content in enumerate(contents):
            started = time.perf_counter()
            Image.open(io.BytesIO(content)).load()
            decode_only.append(time.perf_counter() - started)
            file = IncomingFile(kind=FileKind.PHOTO, file_id=f"f{n}", size=len(content))
            started = time.perf_counter()
            upload = await prepare_upload(
                file, document, config.document_limits, source, store, checks
            )
            ours.append(time.perf_counter() - started)
            assert upload.refusal is None, upload.refusal
    return ours, decode_only


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    expected = loop.time() + 0.005
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = loop.time()
        lags.append(max(0.0, now - expected))
        expected = now + 0.005


async def concurrent_uploads(count: int, on_loop: bool) -> tuple[float, list[float]]:
    """(wall seconds, every tick's lag) for `count` uploads at once."""
    config = load_recruitment()
    document = config.document_by_key("diploma")
    assert document is not None
    contents = photos(count)
    source = MemorySource({f"f{n}": content for n, content in enumerate(contents)})
    lags: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(lags, stop))
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        store = FileStore(Path(folder))
        if on_loop:
            for content in contents:  # what a handler without threads would do
                check_document(content, document, config.document_limits)
                await asyncio.sleep(0)
        else:
            checks = asyncio.Semaphore(4)
            files = [IncomingFile(kind=FileKind.PHOTO, file_id=f"f{n}") for n in range(count)]
            uploads = await asyncio.gather(
                *(
                    prepare_upload(f, document, config.document_limits, source, store, checks)
                    for f in files
                )
            )
            assert all(upload.refusal is None for upload in uploads)
    elapsed = time.perf_counter() - started
    stop.set()
    await ticker
    return elapsed, lags


def _memory_child(folder: str, queue: multiprocessing.Queue) -> None:
    """Load the files, then check them all at once; report RSS before and the peak during.

    The kernel's peak counter is reset just before the checks, so start-up peaks (imports)
    do not hide what the checks themselves need.
    """
    paths = sorted(Path(folder).glob("*.jpg"))
    source = MemorySource({path.stem: path.read_bytes() for path in paths})
    config = load_recruitment()
    document = config.document_by_key("diploma")
    assert document is not None

    async def run() -> None:
        with tempfile.TemporaryDirectory() as stored:
            store = FileStore(Path(stored))
            checks = asyncio.Semaphore(4)
            files = [IncomingFile(kind=FileKind.PHOTO, file_id=path.stem) for path in paths]
            await asyncio.gather(
                *(
                    prepare_upload(f, document, config.document_limits, source, store, checks)
                    for f in files
                )
            )

    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    asyncio.run(run())
    queue.put((before / 1024, _status_kib("VmHWM") / 1024))


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_mb(folder: str) -> tuple[float, float]:
    """(RSS before the checks, peak RSS during them), in a fresh process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_memory_child, args=(folder, queue))
    process.start()
    value = queue.get(timeout=120)
    process.join(timeout=30)
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    ours, decode = asyncio.run(one_photo_timing(args.repeat))
    ours_ms, decode_ms = statistics.median(ours) * 1000, statistics.median(decode) * 1000
    print("1. one 4-megapixel photo (2448x1632 JPEG), median of", args.repeat)
    print(f"   check + hash + store: {ours_ms:7.1f} ms")
    print(f"   Pillow full decode:   {decode_ms:7.1f} ms   (baseline)")
    print(f"   ratio:                {ours_ms / decode_ms:7.2f}x")

    with tempfile.TemporaryDirectory() as folder:
        for n, content in enumerate(photos(args.uploads)):
            (Path(folder) / f"f{n}.jpg").write_bytes(content)
        before_rss, peak_rss = memory_mb(folder)
    print(f"2. memory, {args.uploads} uploads checked at once (4 at a time), fresh process")
    print(f"   RSS with the files loaded: {before_rss:7.1f} MB")
    print(
        f"   peak RSS during checks:    {peak_rss:7.1f} MB  (+{peak_rss - before_rss:.1f} MB, "
        f"ratio {peak_rss / before_rss:.2f}x)"
    )

    print(f"3. event loop while {args.uploads} uploads are checked (5 ms ticker; lag p50/p99/max)")
    for label, on_loop in (("off the loop (threads)", False), ("on the loop (baseline)", True)):
        elapsed, lags = asyncio.run(concurrent_uploads(args.uploads, on_loop=on_loop))
        cuts = statistics.quantiles(lags, n=100, method="inclusive")
        p50, p99 = cuts[49] * 1000, cuts[98] * 1000
        print(
            f"   {label}: {p50:5.1f} / {p99:5.1f} / {max(lags) * 1000:5.1f} ms, "
            f"{len(lags)} ticks, all done in {elapsed:4.2f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
