"""Real image and PDF files made for the tests (Pillow, pypdf): good ones and every kind of bad."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image, ImageDraw, ImageFilter
from pypdf import PdfWriter


def _document_picture(width: int, height: int, seed: int = 1) -> Image.Image:
    """Something like a photographed card or page: light paper with dark lines of 'text'."""
    image = Image.new("RGB", (width, height), (235, 230, 220))
    draw = ImageDraw.Draw(image)
    rng = random.Random(seed)
    for y in range(height // 25, height - height // 25, max(12, height // 25)):
        x = width // 25
        while x < width - width // 8:
            word = rng.randint(width // 50, width // 12)
            draw.rectangle([x, y, x + word, y + max(4, height // 60)], fill=(30, 30, 40))
            x += word + width // 60
    return image


def _face(width: int = 600, height: int = 800) -> Image.Image:
    image = Image.new("RGB", (width, height), (200, 200, 210))
    draw = ImageDraw.Draw(image)
    draw.ellipse([width * 0.25, height * 0.19, width * 0.75, height * 0.69], fill=(190, 150, 120))
    for eye_x in (0.4, 0.6):
        draw.ellipse(
            [width * eye_x - 20, height * 0.38, width * eye_x + 20, height * 0.41],
            fill=(40, 30, 30),
        )
    draw.rectangle([width * 0.42, height * 0.56, width * 0.58, height * 0.58], fill=(120, 50, 50))
    draw.rectangle([width * 0.17, height * 0.7, width * 0.83, height], fill=(30, 60, 120))
    return image


def jpeg(image: Image.Image, quality: int = 88) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def good_photo() -> bytes:
    return jpeg(_face())


def good_ktp() -> bytes:
    return jpeg(_document_picture(1280, 800, seed=2))


def good_diploma() -> bytes:
    return jpeg(_document_picture(1280, 905, seed=3))


def blurred_ktp() -> bytes:
    return jpeg(_document_picture(1280, 800, seed=2).filter(ImageFilter.GaussianBlur(6)))


def dark_ktp() -> bytes:
    return jpeg(_document_picture(1280, 800, seed=2).point(lambda value: int(value * 0.15)))


def tiny_ktp() -> bytes:
    return jpeg(_document_picture(320, 200, seed=2))


def four_megapixel_photo() -> bytes:
    """A 2448×1632 (4 MP) phone-camera-sized picture."""
    return jpeg(_document_picture(2448, 1632, seed=4), quality=90)


def truncated_jpeg() -> bytes:
    content = good_ktp()
    return content[: len(content) // 2]


def png_bomb(side: int = 30_000) -> bytes:
    """A tiny PNG that claims side×side pixels (a decompression bomb), built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * side
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(64)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def text_file_named_jpg() -> bytes:
    return b"Ini bukan gambar, hanya teks yang diberi nama foto.jpg\n" * 20


def pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=842, height=595)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=842, height=595)
    writer.encrypt("rahasia")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
