"""Checks on an uploaded document, by content: type, size, dimensions, brightness, sharpness.

Pure and synchronous (CPU work): callers run it off the event loop. Refusals raise
`core.validation.Invalid` with a catalog code:

doc_empty, doc_too_large (max_mb), doc_type (accepted), doc_pdf_not_accepted, doc_corrupt,
doc_truncated, doc_too_many_pixels, doc_dimensions, doc_too_small (width, height, min_short,
min_long), doc_too_dark, doc_too_bright, doc_blurry, doc_pdf_encrypted, doc_pdf_pages (max).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from core.recruitment import Document, DocumentLimits
from core.validation import Invalid

if TYPE_CHECKING:
    from PIL import ImageFilter

WORKING_SIZE = 1024
"""Brightness and sharpness are measured on the image scaled to this longer side."""
MAX_ASPECT_RATIO = 8
IMAGE_TYPES = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed every check, with what was learnt about it."""

    mime_type: str
    extension: str
    width: int | None = None
    height: int | None = None
    pages: int | None = None
    brightness: float | None = None
    sharpness: float | None = None


def sniff(content: bytes) -> str | None:
    """'image' or 'pdf' from the first bytes (never from a name or a claimed type)."""
    if content.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")) or (
        content[:4] == b"RIFF" and content[8:12] == b"WEBP"
    ):
        return "image"
    if content[:1024].lstrip().startswith(b"%PDF-"):
        return "pdf"
    return None


def attachment_type(content: bytes) -> tuple[str, str] | None:
    """(MIME type, extension) of a photo or PDF sent with a broadcast; None for anything else."""
    if content.startswith(b"\x89PNG"):
        return "image/png", "png"
    return {"image": ("image/jpeg", "jpg"), "pdf": ("application/pdf", "pdf")}.get(
        sniff(content) or ""
    )


def check_document(content: bytes, document: Document, limits: DocumentLimits) -> CheckedFile:
    """Accept the file for `document`, or raise Invalid with the reason."""
    if not content:
        raise Invalid("doc_empty")
    if len(content) > limits.max_bytes:
        raise Invalid("doc_too_large", max_mb=limits.max_bytes // (1024 * 1024))
    kind = sniff(content)
    if kind is None:
        raise Invalid("doc_type", accepted=_accepted(document))
    if kind not in document.accepts:
        raise Invalid("doc_pdf_not_accepted")
    if kind == "pdf":
        return _check_pdf(content, limits)
    return _check_image(content, document, limits)


def _accepted(document: Document) -> str:
    return "JPG/PNG" + (" / PDF" if "pdf" in document.accepts else "")


@cache
def _laplacian() -> ImageFilter.Kernel:
    from PIL import ImageFilter

    return ImageFilter.Kernel((3, 3), [0, 1, 0, 1, -4, 1, 0, 1, 0], scale=1, offset=128)


def _check_image(content: bytes, document: Document, limits: DocumentLimits) -> CheckedFile:
    from PIL import Image, ImageStat, UnidentifiedImageError  # on the first picture only

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(content))
            width, height = image.size
            if image.format not in IMAGE_TYPES:
                raise Invalid("doc_type", accepted=_accepted(document))
            if width * height > limits.max_pixels:
                raise Invalid("doc_too_many_pixels")
            if max(width, height) > MAX_ASPECT_RATIO * max(1, min(width, height)):
                raise Invalid("doc_dimensions")
            scale = WORKING_SIZE / max(width, height)
            if scale < 1:  # JPEG: decode at a reduced size, grey only (faster, less memory)
                image.draft("L", (round(width * scale), round(height * scale)))
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise Invalid("doc_too_many_pixels") from error
        except UnidentifiedImageError as error:
            raise Invalid("doc_corrupt") from error
        except OSError as error:
            raise Invalid(
                "doc_truncated" if "truncated" in str(error) else "doc_corrupt"
            ) from error
        except (ValueError, SyntaxError) as error:
            raise Invalid("doc_corrupt") from error
    short, long = sorted((width, height))
    if short < document.min_short_side or long < document.min_long_side:
        raise Invalid(
            "doc_too_small",
            width=width,
            height=height,
            min_short=document.min_short_side,
            min_long=document.min_long_side,
        )
    gray = image.convert("L")
    gray.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    brightness = ImageStat.Stat(gray).mean[0]
    if brightness < limits.min_brightness:
        raise Invalid("doc_too_dark")
    if brightness > limits.max_brightness:
        raise Invalid("doc_too_bright")
    edges = gray.filter(_laplacian())  # Pillow leaves the 1-pixel border unfiltered: crop it
    sharpness = ImageStat.Stat(edges.crop((1, 1, edges.width - 1, edges.height - 1))).var[0]
    if sharpness < document.min_sharpness:
        raise Invalid("doc_blurry")
    mime_type, extension = IMAGE_TYPES[image.format]
    return CheckedFile(mime_type, extension, width, height, None, brightness, sharpness)


def _check_pdf(content: bytes, limits: DocumentLimits) -> CheckedFile:
    from pypdf import PdfReader  # on the first PDF only
    from pypdf.errors import PdfReadError

    if b"%%EOF" not in content[-2048:]:
        raise Invalid("doc_truncated")
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            raise Invalid("doc_pdf_encrypted")
        pages = len(reader.pages)
    except Invalid:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise Invalid("doc_corrupt") from error
    if pages == 0:
        raise Invalid("doc_corrupt")
    if pages > limits.max_pdf_pages:
        raise Invalid("doc_pdf_pages", max=limits.max_pdf_pages)
    return CheckedFile("application/pdf", "pdf", pages=pages)
