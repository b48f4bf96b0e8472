"""Files from the field: photos and signatures, checked by decoding them (not by their
name or declared type), stored with a thumbnail under var/uploads by default, or in an
S3-compatible store when one is configured (SERVFLOW_UPLOAD_STORE=s3)."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, UnidentifiedImageError

from servflow.platform.errors import NotFound, invalid_field
from servflow.platform.settings import Settings

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # decompression bombs: refused before decoding
THUMB = (320, 320)
FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}
FORMATS_BY_EXT = {ext: content_type for ext, content_type in FORMATS.values()}
FILE_ID = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")


@dataclass(frozen=True)
class Stored:
    file_id: str
    content_type: str
    size: int
    width: int
    height: int


def check_file_id(file_id: str) -> None:
    """422 naming `file_id` unless it has the shape of one of our ids."""
    if not FILE_ID.match(file_id):
        raise invalid_field("file_id", "not a file id")


def object_key(file_id: str, *, thumb: bool = False) -> str:
    """Where a file lives in its store: `ab/ab12….png`, its thumbnail `ab/ab12….thumb.jpg`."""
    check_file_id(file_id)
    stem = file_id.split(".")[0]
    return f"{stem[:2]}/{stem}.thumb.jpg" if thumb else f"{stem[:2]}/{file_id}"


class Backend(Protocol):
    """Where the bytes go: a directory, or an S3-compatible bucket."""

    def exists(self, key: str) -> bool: ...

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes | None: ...


class DiskBackend:
    def __init__(self, root: Path) -> None:
        self.root = root

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a reader never sees half a file.
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        partial.replace(path)

    def get(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.exists() else None


def _checked(data: bytes, declared_type: str) -> tuple[str, str, int, int, bytes]:
    """(extension, content type, width, height, JPEG thumbnail) of an image we take; 422
    naming `file` otherwise."""
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
    return ext, content_type, width, height, thumb.getvalue()


class FileStore:
    """Files named by their content's hash: the same photo uploaded twice (an offline
    retry) is one file. The thumbnail is written first and the file last, so a file that
    exists always has its thumbnail (a fault in between leaves only a thumbnail, which the
    next upload of the same bytes writes again)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def save(self, data: bytes, *, declared_type: str = "") -> Stored:
        """Checks and stores an image; 422 naming `file` when it is not one we take."""
        ext, content_type, width, height, thumb = _checked(data, declared_type)
        file_id = f"{hashlib.sha256(data).hexdigest()[:32]}.{ext}"
        key = object_key(file_id)
        if not self.backend.exists(key):
            self.backend.put(object_key(file_id, thumb=True), thumb, "image/jpeg")
            self.backend.put(key, data, content_type)
        return Stored(file_id, content_type, len(data), width, height)

    def read(self, file_id: str, *, thumb: bool = False) -> tuple[bytes, str]:
        data = self.backend.get(object_key(file_id, thumb=thumb))
        if data is None:
            raise NotFound(f"no file {file_id}")
        content_type = "image/jpeg" if thumb else FORMATS_BY_EXT[file_id.rsplit(".", 1)[1]]
        return data, content_type


def store_from_settings(settings: Settings) -> FileStore:
    """The configured store: a directory (`uploads_dir`) by default."""
    return FileStore(DiskBackend(Path(settings.uploads_dir)))
