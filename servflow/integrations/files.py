"""Files from the field: photos and signatures, checked by decoding them (not by their
name or declared type), stored with a thumbnail under var/uploads by default, or in an
S3-compatible store when one is configured (not implemented yet: see docs/channels.md)."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from servflow.platform.errors import NotFound, invalid_field

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # decompression bombs: refused before decoding
THUMB = (320, 320)
FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}
FILE_ID = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")


@dataclass(frozen=True)
class Stored:
    file_id: str
    content_type: str
    size: int
    width: int
    height: int


class FileStore:
    """Files under `root` (var/uploads), named by their content's hash: the same photo
    uploaded twice (an offline retry) is one file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, file_id: str, *, thumb: bool = False) -> Path:
        if not FILE_ID.match(file_id):
            raise invalid_field("file_id", "not a file id")
        stem = file_id.split(".")[0]
        name = f"{stem}.thumb.jpg" if thumb else file_id
        return self.root / stem[:2] / name

    def save(self, data: bytes, *, declared_type: str = "") -> Stored:
        """Checks and stores an image; 422 naming `file` when it is not one we take."""
        if len(data) > MAX_BYTES:
            raise invalid_field("file", f"larger than {MAX_BYTES // (1024 * 1024)} MB")
        if not data:
            raise invalid_field("file", "empty")
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        try:
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format or ""
                width, height = probe.size
                if kind not in FORMATS:
                    raise invalid_field("file", "only JPEG, PNG or WebP images")
                if width * height > MAX_PIXELS:
                    raise invalid_field("file", "too many pixels")
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.thumbnail(THUMB)
                thumb = io.BytesIO()
                image.convert("RGB").save(thumb, "JPEG", quality=80)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError):
            raise invalid_field("file", "not a readable image") from None
        ext, content_type = FORMATS[kind]
        if declared_type and declared_type != content_type:
            raise invalid_field("file", f"declared {declared_type}, but it is {content_type}")
        file_id = f"{hashlib.sha256(data).hexdigest()[:32]}.{ext}"
        path = self._path(file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_bytes(data)
            self._path(file_id, thumb=True).write_bytes(thumb.getvalue())
        return Stored(file_id, content_type, len(data), width, height)

    def read(self, file_id: str, *, thumb: bool = False) -> tuple[bytes, str]:
        path = self._path(file_id, thumb=thumb)
        if not path.exists():
            raise NotFound(f"no file {file_id}")
        content_type = "image/jpeg" if thumb else FORMATS_BY_EXT[file_id.rsplit(".", 1)[1]]
        return path.read_bytes(), content_type


FORMATS_BY_EXT = {ext: content_type for ext, content_type in FORMATS.values()}
