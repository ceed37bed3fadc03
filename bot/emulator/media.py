"""Media helpers for the emulator: photo size variants, MIME types and file-kind metadata.

Photos are processed like Telegram does (several ``PhotoSize`` variants, the
largest last).  Pillow (a project dependency via ``qrcode[pil]``) is used when
available to read dimensions and render JPEG thumbnails; without it a photo is
stored as a single size with unknown (0×0) dimensions.
"""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "MEDIA_KINDS",
    "ImageProcessError",
    "MediaKind",
    "PhotoVariant",
    "guess_extension",
    "guess_mime",
    "photo_variants",
]

THUMBNAIL_SIDES = (90, 320, 800)
MAX_PHOTO_SIDE = 2560


class ImageProcessError(ValueError):
    """The uploaded photo is not a decodable image (Telegram: IMAGE_PROCESS_FAILED)."""


@dataclass(frozen=True)
class PhotoVariant:
    """One stored size of a photo."""

    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class MediaKind:
    """How a media kind is stored: Message field, folder in file_path, default MIME and extras."""

    field: str
    folder: str
    default_mime: str
    extra: tuple[tuple[str, object], ...] = ()
    keeps_file_name: bool = False


MEDIA_KINDS: dict[str, MediaKind] = {
    "document": MediaKind("document", "documents", "application/octet-stream", keeps_file_name=True),
    "audio": MediaKind("audio", "music", "audio/mpeg", (("duration", 0),), keeps_file_name=True),
    "video": MediaKind("video", "videos", "video/mp4", (("width", 0), ("height", 0), ("duration", 0))),
    "animation": MediaKind(
        "animation", "animations", "video/mp4", (("width", 0), ("height", 0), ("duration", 0))
    ),
    "voice": MediaKind("voice", "voice", "audio/ogg", (("duration", 0),)),
    "sticker": MediaKind(
        "sticker",
        "stickers",
        "image/webp",
        (("type", "regular"), ("width", 512), ("height", 512), ("is_animated", False), ("is_video", False)),
    ),
}


def guess_mime(file_name: str | None, fallback: str = "application/octet-stream") -> str:
    """MIME type from a file name's extension."""
    guessed = mimetypes.guess_type(file_name or "")[0]
    return guessed or fallback


def guess_extension(mime_type: str | None) -> str | None:
    """File extension (without dot) for a MIME type, if known."""
    extension = mimetypes.guess_extension(mime_type or "")
    return extension.lstrip(".") if extension else None


def photo_variants(data: bytes) -> list[PhotoVariant]:
    """Sizes Telegram would store for an uploaded photo (smallest first)."""
    try:
        from PIL import Image as PILImage
        from PIL import UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow is a project dependency
        if not data:
            raise ImageProcessError("empty photo") from None
        return [PhotoVariant(data, 0, 0)]
    try:
        with PILImage.open(io.BytesIO(data)) as image:
            image.load()
            return _variants_from_image(image, data)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ImageProcessError(str(error)) from error


def _variants_from_image(image: Image, original: bytes) -> list[PhotoVariant]:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageProcessError("image has no pixels")
    variants = [_thumbnail(image, side) for side in THUMBNAIL_SIDES if max(width, height) > side]
    if max(width, height) > MAX_PHOTO_SIDE:
        variants.append(_thumbnail(image, MAX_PHOTO_SIDE))
    else:
        variants.append(PhotoVariant(original, width, height))
    return variants


def _thumbnail(image: Image, side: int) -> PhotoVariant:
    copy = image.convert("RGB")
    copy.thumbnail((side, side))
    buffer = io.BytesIO()
    copy.save(buffer, format="JPEG", quality=80)
    return PhotoVariant(buffer.getvalue(), copy.width, copy.height)
