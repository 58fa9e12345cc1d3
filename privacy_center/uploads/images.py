"""JPEG and PNG identity documents: decoded whole with Pillow, as strict as it gets (a damaged,
truncated or oversized image is refused, never half-shown), and scanned for hidden content."""

from __future__ import annotations

import io
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from flask_babel import gettext as _
from PIL import Image, ImageFile

from .refusals import RejectedUpload, smuggled_in_image

MAX_IMAGE_PIXELS = 40_000_000

# --- Images -------------------------------------------------------------------------------------

_PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
_PILLOW_LOCK = threading.Lock()
# What Pillow raises on damaged data (its plugins are not consistent about it).
_IMAGE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
)


def _too_many_pixels() -> RejectedUpload:
    return RejectedUpload(
        _(
            "The image has too many pixels (more than %(limit)d megapixels). Resize it, for "
            "example to 4000 × 3000 pixels, or scan at a lower resolution, and try again.",
            limit=MAX_IMAGE_PIXELS // 1_000_000,
        )
    )


def check_image(data: bytes, mime: str) -> None:
    """Decode the whole image: a truncated or corrupt file is refused, not half-shown."""
    pillow_format = _PILLOW_FORMATS[mime]
    try:
        with _strict_pillow():
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
                # Image.open has read the header only: the size is known before any pixel is
                # decoded.
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise _too_many_pixels()
                image.verify()  # chunk checksums (PNG) and structure
            # verify() leaves the image unusable: decode a fresh one completely.
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
                image.load()
        if mime == "image/jpeg" and not _jpeg_ends(data):
            raise OSError("no end-of-image marker after the last scan")
        if smuggled_in_image(data):
            raise RejectedUpload(
                _(
                    "The image also contains something other than the picture (such as a "
                    "hidden archive, program or web page code). Open it and save it again as "
                    "a new JPEG or PNG file (or take a screenshot of it), then upload that file."
                )
            )
    except RejectedUpload:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _too_many_pixels() from None
    except _IMAGE_ERRORS:
        raise RejectedUpload(
            _(
                "The image is damaged or incomplete, so it cannot be read. Take the photo or "
                "the scan again (or export it again as JPEG or PNG) and upload the new file."
            )
        ) from None


def _jpeg_ends(data: bytes) -> bool:
    """Whether the end-of-image marker follows the last scan.

    libjpeg pads a scan cut short (with a warning Pillow does not raise), so a truncated photo
    can decode "successfully". Inside a scan every 0xFF byte is followed by 0x00 or a restart
    marker, so the end marker cannot appear by chance; bytes after it (some phones add a
    trailer) do not matter.
    """
    last_scan = data.rfind(b"\xff\xda")
    return last_scan != -1 and data.find(b"\xff\xd9", last_scan) != -1


@contextmanager
def _strict_pillow() -> Iterator[None]:
    """Pillow as strict as it gets, for one check at a time.

    WeasyPrint sets Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES`` to True when it is
    imported (to show what it can of broken images): Pillow would then pad a truncated image
    and ignore decoding errors. The check runs with it False and puts back what it found; the
    lock keeps two checks from restoring each other's value. Pillow's bomb warning (above
    ~89 MP, while opening) is turned into an error, never a warning that escapes.
    """
    with _PILLOW_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous
