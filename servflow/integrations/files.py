"""Files from the field: photos and signatures, checked by decoding them (not by their
name or declared type), stored with a thumbnail under var/uploads by default, or in an
S3-compatible store when one is configured (SERVFLOW_UPLOAD_STORE=s3)."""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image, UnidentifiedImageError

from servflow.platform.errors import AppError, NotFound, invalid_field
from servflow.platform.settings import Settings

log = logging.getLogger(__name__)

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


class StoreUnavailable(AppError):
    """The file store cannot be reached or refused the operation: try again later."""

    status_code = 503


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
    """Files under a directory (var/uploads)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.root / key
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written aside, then renamed: a reader never sees half a file.
            partial = path.with_name(path.name + ".part")
            partial.write_bytes(data)
            partial.replace(path)
        except OSError as error:
            log.warning("upload store (disk) failed to write %s: %s", key, error)
            raise StoreUnavailable("the file store cannot write now; try again") from None

    def get(self, key: str) -> bytes | None:
        path = self.root / key
        try:
            return path.read_bytes() if path.exists() else None
        except OSError as error:
            log.warning("upload store (disk) failed to read %s: %s", key, error)
            raise StoreUnavailable("the file store cannot read now; try again") from None


_MISSING = {"404", "NoSuchKey", "NotFound"}
# A HEAD on a missing key is a 403 for keys without s3:ListBucket: not a fault, the upload
# is written (content-addressed, so writing it again changes nothing).
_MAYBE_MISSING = {"403", "AccessDenied", "Forbidden"}


def _code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3Backend:
    """Objects in a bucket of an S3-compatible store (AWS S3, MinIO, Aliyun OSS, Tencent
    COS...), path-style addressing, under `prefix`. Any failure of the store — unreachable,
    refusing our keys, no such bucket, throttling past botocore's retries — is a
    StoreUnavailable (503), never an unexplained 500. (botocore is imported here, not by
    the module: a disk store does not pay for it.)"""

    def __init__(self, client: Any, *, bucket: str, prefix: str = "") -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self.client, self.bucket, self.prefix = client, bucket, prefix
        self.faults: tuple[type[Exception], ...] = (ClientError, BotoCoreError)

    def _fault(self, what: str, key: str, error: Exception) -> StoreUnavailable:
        code = _code(error)
        log.warning("upload store (s3) failed to %s %s: %s", what, key, error)
        reason = f" ({code})" if code else ""
        return StoreUnavailable(f"the file store cannot {what} now{reason}; try again")

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except self.faults as error:
            if _code(error) in _MISSING | _MAYBE_MISSING:
                return False
            raise self._fault("read", key, error) from None
        return True

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self.prefix + key, Body=data, ContentType=content_type
            )
        except self.faults as error:
            raise self._fault("write", key, error) from None

    def get(self, key: str) -> bytes | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            body: bytes = answer["Body"].read()
        except self.faults as error:
            if _code(error) in _MISSING:
                return None
            raise self._fault("read", key, error) from None
        return body


_client_lock = threading.Lock()


@functools.lru_cache(maxsize=8)
def _s3_client(endpoint: str, region: str, access_key: str, secret_key: str) -> Any:
    """One client per store (clients are thread-safe; making one is not, and is slow)."""
    import boto3
    from botocore.config import Config

    with _client_lock:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint or None,
            region_name=region or None,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=3,
                read_timeout=15,
                retries={"mode": "standard", "total_max_attempts": 3},
            ),
        )


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
    """The configured store: a directory (`uploads_dir`) by default, a bucket with
    `upload_store=s3`."""
    if settings.upload_store == "s3":
        if not settings.upload_s3_bucket:
            raise StoreUnavailable("the file store is S3 but no bucket is configured")
        client = _s3_client(
            settings.upload_s3_endpoint,
            settings.upload_s3_region,
            settings.upload_s3_access_key,
            settings.upload_s3_secret_key,
        )
        return FileStore(
            S3Backend(client, bucket=settings.upload_s3_bucket, prefix=settings.upload_s3_prefix)
        )
    return FileStore(DiskBackend(Path(settings.uploads_dir)))
