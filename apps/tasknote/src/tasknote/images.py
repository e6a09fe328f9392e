"""Pure image logic: what an upload is (from its bytes, never its name) and its resized variants."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO

from PIL import Image

VARIANT_SIZES = (1024, 512, 128)  # largest first: each is made from the one before it
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# A small file can claim huge dimensions (a decompression bomb); refuse before decoding it.
MAX_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Pillow decodes a WebP through libwebp's animation decoder: its canvas, its previous-frame
# buffer, the frame returned as bytes and the image itself, ~16 bytes a pixel (measured: 625 MiB
# peak for 6324x6324). The worker at its manifest limit (512Mi) can afford half the pixels of
# the other formats; tests/unit checks every cap against base/'s worker limit.
FORMAT_MAX_PIXELS = {"JPEG": MAX_PIXELS, "PNG": MAX_PIXELS, "WEBP": 20_000_000}


class NotAnImage(ValueError):
    """The bytes are not a JPEG, PNG or WebP image we accept."""


@dataclass(frozen=True)
class Probe:
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class Variant:
    size: int
    width: int
    height: int
    content_type: str
    data: bytes


def probe(data: bytes | IO[bytes]) -> Probe:
    """Read just the header (of the bytes or a file opened for reading); raise NotAnImage with a
    sentence for the problem body."""
    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data, formats=list(FORMATS)) as img:
            width, height = img.size
            fmt = img.format or ""
    except Image.DecompressionBombError:
        raise NotAnImage(f"the image has more than {MAX_PIXELS} pixels") from None
    except (OSError, SyntaxError, ValueError):
        raise NotAnImage("the file is not a JPEG, PNG or WebP image") from None
    if fmt not in FORMATS or width < 1 or height < 1:
        raise NotAnImage("the file is not a JPEG, PNG or WebP image")
    if width * height > FORMAT_MAX_PIXELS[fmt]:
        raise NotAnImage(f"the {fmt} image has more than {FORMAT_MAX_PIXELS[fmt]} pixels")
    return Probe(FORMATS[fmt], width, height)


def fit(width: int, height: int, box: int) -> tuple[int, int]:
    """Scale (width, height) so the longer side is at most box, keeping the aspect ratio."""
    if max(width, height) <= box:
        return width, height
    if width >= height:
        return box, max(1, round(height * box / width))
    return max(1, round(width * box / height)), box


class TooLarge(ValueError):
    """Decoding the image would need more memory than the worker's budget allows."""


# Pillow keeps 1-band 8-bit images in 1 byte per pixel, 16-bit in 2, and every multi-band or
# 32-bit mode in 4 (RGB is padded to RGBX): bands x depth as it stores them, which is what a
# decode costs (Pillow's Storage.c: ImagingNewPrologueSubtype sets pixelsize per mode).
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# Modes Pillow resamples with LANCZOS as they are; anything else (P, I;16, CMYK, ...) is converted
# to RGB(A) at full size first, which costs one more full-size copy.
_RESAMPLABLE = frozenset({"L", "LA", "RGB", "RGBA"})
# Like resize(reducing_gap=3): reduce by an integer factor >= 2 first whenever the target is 3x
# smaller (box averaging, then LANCZOS on the rest): the reduced copy is at most a quarter.
_REDUCING_GAP = 3.0
_STRIP_ROWS = 256
# EXIF orientation -> the transpose that undoes it (as ImageOps.exif_transpose, Pillow's ImageOps.py).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def pixel_bytes(mode: str) -> int:
    return _PIXEL_BYTES.get(mode, 4)


def decode_peak_bytes(width: int, height: int, mode: str, fmt: str) -> int:
    """Most memory make_variants holds for pixels at once for an image of this (decode) size,
    mode and format: the decoded image (four times for WebP, see FORMAT_MAX_PIXELS), a full-size
    RGB(A) copy when the mode must be converted first, the reduced copy (at most a quarter) and
    one strip in flight."""
    decoded = width * height * (16 if fmt == "WEBP" else pixel_bytes(mode))
    converted = 0 if mode in _RESAMPLABLE else width * height * 4
    reduced = width * height * 4 // 4
    strips = 2 * width * _STRIP_ROWS * 4
    return decoded + converted + reduced + strips


def _reduce_in_strips(img: Image.Image, factor: tuple[int, int]) -> Image.Image:
    """img.reduce(factor), a band of rows at a time. Pillow's reduce() and resize() convert RGBA
    and LA to premultiplied alpha at full size first (one more full copy: 160 MB at the pixel
    cap); per strip that copy is one strip. Strip heights are multiples of the factor, so every
    output pixel averages the same block as a whole-image reduce would."""
    width, height = img.size
    fx, fy = factor
    out = Image.new(img.mode, (-(-width // fx), -(-height // fy)))
    rows = fy * max(1, _STRIP_ROWS // fy)
    for top in range(0, height, rows):
        with img.crop((0, top, width, min(height, top + rows))) as strip:
            reduced = strip.reduce((fx, fy))
        out.paste(reduced, (0, top // fy))
        reduced.close()
    return out


def make_variants(data: bytes, budget: int | None = None) -> list[Variant]:
    """Decode once, then 1024 -> 512 -> 128, each from the previous one, with EXIF orientation
    applied to the small 1024 image rather than the full-size one.

    Memory: the decode is the cost. For JPEG, draft() lets libjpeg decode at 1/2, 1/4 or 1/8
    scale straight away (DCT scaling): a 6000x6000 photo is decoded as 1500x1500 for a 1024 box.
    PNG and WebP have no reduced-scale decode in Pillow, so they are decoded full size; with a
    budget, an image whose decode_peak_bytes exceed it raises TooLarge before any pixel is
    decoded, instead of the kernel killing the worker half-way."""
    src = Image.open(io.BytesIO(data), formats=list(FORMATS))
    if src.format == "JPEG":
        src.draft("RGB", fit(src.width, src.height, VARIANT_SIZES[0]))  # src.size is now the decode size
    peak = decode_peak_bytes(src.width, src.height, src.mode, src.format or "")
    if budget is not None and peak > budget:
        raise TooLarge(f"decoding {src.width}x{src.height} {src.mode} needs about {peak // 2**20} MiB, "
                       f"over this worker's budget of {budget // 2**20} MiB")
    orientation = src.getexif().get(0x0112)
    has_alpha = src.mode in ("RGBA", "LA", "PA") or (src.mode == "P" and "transparency" in src.info)
    working = "RGBA" if has_alpha else "RGB"
    img: Image.Image = src if src.mode in _RESAMPLABLE else src.convert(working)
    out: list[Variant] = []
    current = img
    for box in VARIANT_SIZES:
        size = fit(current.width, current.height, box)
        # The same integer pre-reduction resize(reducing_gap=3) would make, done in strips.
        factor = (int(current.width / size[0] / _REDUCING_GAP) or 1,
                  int(current.height / size[1] / _REDUCING_GAP) or 1)
        if factor != (1, 1):
            current = _reduce_in_strips(current, factor)
        if size != current.size:
            current = current.resize(size, Image.Resampling.LANCZOS)
        if box == VARIANT_SIZES[0]:
            # Small from here on: convert and orient the small copy, then drop the full-size pixels.
            current = current.convert(working)
            if current is not img:
                img.close()
            if current is not src:
                src.close()
            if orientation in _ORIENTATION:
                current = current.transpose(_ORIENTATION[orientation])
        buf = io.BytesIO()
        if has_alpha:
            current.save(buf, "WEBP", quality=85, method=2)
            ctype = "image/webp"
        else:
            current.save(buf, "JPEG", quality=85)
            ctype = "image/jpeg"
        out.append(Variant(box, current.width, current.height, ctype, buf.getvalue()))
    return out
