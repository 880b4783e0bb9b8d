"""Blobs in an S3 bucket (docs/deploy.md, "Blob storage"), through aiobotocore.

A chunk lands in the receiving worker's landing zone as with :class:`LocalBlobStore`. Every full
part of ``PART_SIZE`` bytes is then uploaded into an S3 multipart upload of ``uploads/<sha256>``;
part *k* always covers bytes ``[(k-1)·P, k·P)``, so a part uploaded twice (two workers, a retry) is
the same part. The multipart upload is the durable, shared offset: any worker resumes from the
parts S3 lists. The landing zone keeps only the tail beyond the last part (and, on a worker that
took over, a sparse file whose first ``base`` bytes are in S3, ``partial/<sha256>.base``).

At the end the blob's SHA-256 is verified (from the landing zone when it holds the blob whole,
else by reading the completed upload back), then the object is written once under
``<prefix><sha256>`` and the upload removed. A blob no larger than a part is one PutObject.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._blobs import (
    COPY_BLOCK,
    Appender,
    BlobConfigError,
    BlobCorrupt,
    BlobLocked,
    BlobUnavailable,
    HashingReader,
    LocalBlobStore,
    finish_if_whole,
)

logger = logging.getLogger(__name__)

PART_SIZE = 8 * 1024 * 1024  # ≥ 5 MiB, S3's least part (but the last)
CALL_TIMEOUT = 60.0
_CONFIG_KEYS = frozenset({"url", "endpoint", "region", "ca_file", "credentials_file"})
_CREDENTIAL_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
                               "ExpiredToken", "Forbidden", "403"})
_MISSING_BUCKET = frozenset({"NoSuchBucket", "404"})


@dataclass(frozen=True)
class S3Config:
    """The ``blobs`` section of ``hub.json``; credentials are never part of it."""

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str = "us-east-1"
    ca_file: str | None = None
    credentials_file: str | None = None

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> S3Config:
        unknown = set(doc) - _CONFIG_KEYS
        if unknown:
            raise BlobConfigError(f"unknown key(s) in the blobs configuration: {', '.join(sorted(unknown))} "
                                  f"(known: {', '.join(sorted(_CONFIG_KEYS))})")
        bucket, prefix = parse_s3_url(str(doc.get("url", "")))
        return cls(bucket=bucket, prefix=prefix, endpoint=doc.get("endpoint"), region=doc.get("region") or "us-east-1",
                   ca_file=doc.get("ca_file"), credentials_file=doc.get("credentials_file"))

    def to_dict(self) -> dict[str, Any]:
        doc = {"url": f"s3://{self.bucket}/{self.prefix}".rstrip("/"), "endpoint": self.endpoint,
               "region": self.region, "ca_file": self.ca_file, "credentials_file": self.credentials_file}
        return {k: v for k, v in doc.items() if v is not None}


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://BUCKET[/PREFIX]`` → (bucket, prefix ending in ``/`` or empty)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise BlobConfigError(f"blob storage URL {url!r} is not s3://BUCKET[/PREFIX]")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


class _Client:
    """A synchronous face on one aiobotocore client, whose loop runs in a thread of its own."""

    def __init__(self, config: S3Config, *, access_key: str | None, secret_key: str | None) -> None:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="hub-s3", daemon=True)
        self.thread.start()
        session = get_session()
        if config.credentials_file:
            session.set_config_variable("credentials_file", config.credentials_file)
        kwargs: dict[str, Any] = {"region_name": config.region, "endpoint_url": config.endpoint,
                                  "config": AioConfig(connect_timeout=5, read_timeout=30,
                                                      retries={"max_attempts": 2, "mode": "standard"},
                                                      s3={"addressing_style": "path"}, max_pool_connections=32)}
        if config.ca_file:
            kwargs["verify"] = config.ca_file
        if access_key:
            kwargs.update(aws_access_key_id=access_key, aws_secret_access_key=secret_key)
        self._cm = session.create_client("s3", **kwargs)
        self.client = self.run(self._cm.__aenter__())

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(CALL_TIMEOUT)

    def call(self, op: str, **kwargs: Any) -> Any:
        return self.run(getattr(self.client, op)(**kwargs))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.run(self._cm.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


class _Body:
    """An object's body read through the client's loop."""

    def __init__(self, client: _Client, body) -> None:
        self.client = client
        self.body = body

    def read(self, n: int = -1) -> bytes:
        try:
            return self.client.run(self.body.read(n if n >= 0 else None))
        except Exception as exc:
            raise BlobUnavailable(f"S3 read failed: {type(exc).__name__}") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.body.close()


class S3BlobStore(LocalBlobStore):
    """Blobs in an S3 bucket (tested against Ceph's RADOS Gateway); the landing zone on local disk."""

    kind = "s3"

    def __init__(self, data_dir: Path, config: S3Config, *, access_key: str | None = None,
                 secret_key: str | None = None) -> None:
        super().__init__(data_dir)
        self.config = config
        self.bucket = config.bucket
        self.client = _Client(config, access_key=access_key, secret_key=secret_key)
        self._complete: set[str] = set()  # objects are immutable once written: a yes is cached

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.config.prefix} at {self.config.endpoint or 'AWS'}"

    def close(self) -> None:
        self.client.close()

    # --- S3 calls, their errors made the hub's ----------------------------------------------

    def _call(self, op: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return self.client.call(op, Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _CREDENTIAL_CODES:
                raise BlobConfigError(f"S3 refused the hub's credentials ({code}) for bucket {self.bucket!r}: "
                                      "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the credentials file") from None
            if code == "NoSuchBucket" or (code in _MISSING_BUCKET and op in ("head_bucket",)):
                raise BlobConfigError(f"S3 bucket {self.bucket!r} does not exist at {self.config.endpoint}") from None
            if code in ("NoSuchKey", "NoSuchUpload", "404"):
                raise KeyError(code) from None
            raise BlobUnavailable(f"S3 {op} failed: {code or exc}") from None
        except NoCredentialsError:
            raise BlobConfigError("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                                  "or credentials_file in the blobs configuration") from None
        except (BotoCoreError, OSError, TimeoutError) as exc:
            raise BlobUnavailable(f"S3 at {self.config.endpoint} unreachable ({type(exc).__name__})") from None

    def key(self, sha256: str) -> str:
        return f"{self.config.prefix}{sha256}"

    def upload_key(self, sha256: str) -> str:
        return f"{self.config.prefix}uploads/{sha256}"

    def check(self) -> None:
        try:
            self._call("head_bucket")
        except KeyError:
            raise BlobConfigError(f"S3 bucket {self.bucket!r} does not exist at {self.config.endpoint}") from None

    # --- the interface ----------------------------------------------------------------------

    def is_complete(self, sha256: str) -> bool:
        if sha256 in self._complete:
            return True
        try:
            self._call("head_object", Key=self.key(sha256))
        except KeyError:
            return False
        self._complete.add(sha256)
        return True

    def remote_parts(self, sha256: str) -> tuple[str | None, int, list[dict[str, Any]]]:
        """The multipart upload of a blob: (upload id, bytes in contiguous parts from 0, the parts)."""
        uploads = self._call("list_multipart_uploads", Prefix=self.upload_key(sha256)).get("Uploads", [])
        uploads = sorted((u for u in uploads if u["Key"] == self.upload_key(sha256)),
                         key=lambda u: (u["Initiated"], u["UploadId"]))
        if not uploads:
            return None, 0, []
        upload_id = uploads[0]["UploadId"]
        try:
            parts = self._call("list_parts", Key=self.upload_key(sha256), UploadId=upload_id).get("Parts", [])
        except KeyError:
            return None, 0, []
        done = 0
        good = []
        for n, part in enumerate(sorted(parts, key=lambda p: p["PartNumber"]), start=1):
            if part["PartNumber"] != n:
                break
            good.append({"PartNumber": n, "ETag": part["ETag"]})
            done += part["Size"]
            if part["Size"] != PART_SIZE:
                break  # a last, short part: the blob's end
        return upload_id, done, good

    def offset(self, sha256: str, size: int) -> int:
        if self.is_complete(sha256):
            return size
        try:
            local = self.partial_path(sha256).stat().st_size
        except FileNotFoundError:
            local = 0
        if size <= PART_SIZE:  # never a multipart upload: the landing zone is all there is
            return local
        _, remote, _ = self.remote_parts(sha256)
        base = self._base(sha256)
        return local if base <= remote <= local else remote

    def open_appender(self, sha256: str, size: int | None = None) -> Appender:
        fd = self._lock_partial(sha256)
        try:
            app = S3Appender(self, sha256, fd)
            if (size is None or size > PART_SIZE) and not self.is_complete(sha256):
                app.adopt_remote()
        except BaseException:
            os.close(fd)
            raise
        return app

    def recover(self, sha256: str, size: int) -> bool:
        if self.is_complete(sha256):
            return True
        try:
            app = self.open_appender(sha256, size)
        except BlobLocked:
            return False
        return finish_if_whole(app, size)

    def open(self, sha256: str) -> HashingReader:
        try:
            obj = self._call("get_object", Key=self.key(sha256))
        except KeyError:
            raise BlobUnavailable(f"blob {sha256} is not in s3://{self.bucket}/{self.config.prefix}") from None
        return HashingReader(_Body(self.client, obj["Body"]), sha256, self._quarantine)

    def _quarantine(self, sha256: str) -> BlobCorrupt:
        where = f"{self.config.prefix}quarantine/{sha256}"
        with contextlib.suppress(KeyError):
            self._call("copy_object", Key=where, CopySource={"Bucket": self.bucket, "Key": self.key(sha256)})
            self._call("delete_object", Key=self.key(sha256))
        self._complete.discard(sha256)
        logger.error("blob %s does not match its SHA-256: moved to s3://%s/%s", sha256, self.bucket, where)
        return BlobCorrupt(sha256, f"s3://{self.bucket}/{where}")

    # --- the landing zone and the parts -----------------------------------------------------

    def base_path(self, sha256: str) -> Path:
        return self.partial_dir / f"{sha256}.base"

    def _base(self, sha256: str) -> int:
        try:
            return int(self.base_path(sha256).read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def after_sync(self, app: Appender) -> None:
        assert isinstance(app, S3Appender)
        app.upload_full_parts()

    def publish(self, app: Appender, size: int) -> None:
        assert isinstance(app, S3Appender)
        app.publish(size)


class S3Appender(Appender):
    files: S3BlobStore

    def __init__(self, files: S3BlobStore, sha256: str, fd: int) -> None:
        super().__init__(files, sha256, fd)
        self.upload_id: str | None = None
        self.remote = 0  # bytes of the blob in S3's parts, from 0
        self.parts: list[dict[str, Any]] = []
        self.base = 0  # the landing zone holds the bytes from here on

    def adopt_remote(self) -> None:
        """Line the landing zone up with the parts in S3 (another worker may have received them)."""
        self.upload_id, self.remote, self.parts = self.files.remote_parts(self.sha256)
        local = os.fstat(self.fd).st_size
        self.base = self.files._base(self.sha256)
        if self.base <= self.remote <= local:
            return
        # The landing zone is behind S3 (or holds bytes S3 lost): start from what S3 holds.
        os.ftruncate(self.fd, 0)
        os.ftruncate(self.fd, self.remote)  # sparse: those bytes are in S3
        os.fsync(self.fd)
        self._set_base(self.remote)

    def _set_base(self, base: int) -> None:
        self.base = base
        path = self.files.base_path(self.sha256)
        if base:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(str(base))
            os.replace(tmp, path)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def reset(self) -> None:
        super().reset()
        self._set_base(0)
        self.abort_upload()

    def _upload_part(self, start: int, end: int) -> None:
        if self.upload_id is None:
            self.upload_id = self.files._call("create_multipart_upload",
                                              Key=self.files.upload_key(self.sha256))["UploadId"]
        number = start // PART_SIZE + 1
        body = os.pread(self.fd, end - start, start)
        answer = self.files._call("upload_part", Key=self.files.upload_key(self.sha256), UploadId=self.upload_id,
                                  PartNumber=number, Body=body)
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self.remote = end

    def upload_full_parts(self) -> None:
        local = os.fstat(self.fd).st_size
        while local - self.remote >= PART_SIZE:
            self._upload_part(self.remote, self.remote + PART_SIZE)

    def publish(self, size: int) -> None:
        """(lock held; verified when the landing zone holds the blob whole) Write the object once."""
        f = self.files
        if self.sha256 in f._complete:  # written while verifying (part of it came through another worker)
            pass
        elif self.upload_id is None and self.base == 0 and size <= PART_SIZE:
            f._call("put_object", Key=f.key(self.sha256), Body=os.pread(self.fd, size, 0))
        else:
            while self.remote < size:
                self._upload_part(self.remote, min(self.remote + PART_SIZE, size))
            f._call("complete_multipart_upload", Key=f.upload_key(self.sha256), UploadId=self.upload_id,
                    MultipartUpload={"Parts": sorted(self.parts, key=lambda p: p["PartNumber"])})
            f._call("copy_object", Key=f.key(self.sha256),
                    CopySource={"Bucket": f.bucket, "Key": f.upload_key(self.sha256)})
            f._call("delete_object", Key=f.upload_key(self.sha256))
        f._complete.add(self.sha256)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f.partial_path(self.sha256))
        self._set_base(0)

    def verify_local(self, size: int, digest: str | None) -> bool:
        if self.base == 0:
            return super().verify_local(size, digest)
        if os.fstat(self.fd).st_size != size:
            return False
        return self._verify_remote(size)

    def _verify_remote(self, size: int) -> bool:
        """Part of the blob came through another worker: complete the upload and read it back."""
        f = self.files
        while self.remote < size:
            self._upload_part(self.remote, min(self.remote + PART_SIZE, size))
        f._call("complete_multipart_upload", Key=f.upload_key(self.sha256), UploadId=self.upload_id,
                MultipartUpload={"Parts": sorted(self.parts, key=lambda p: p["PartNumber"])})
        self.upload_id = None
        digest = hashlib.sha256()
        obj = f._call("get_object", Key=f.upload_key(self.sha256))
        body = _Body(f.client, obj["Body"])
        while block := body.read(COPY_BLOCK):
            digest.update(block)
        if digest.hexdigest() != self.sha256:
            f._call("delete_object", Key=f.upload_key(self.sha256))
            super().reset()
            self._set_base(0)
            self.remote, self.parts = 0, []
            return False
        f._call("copy_object", Key=f.key(self.sha256), CopySource={"Bucket": f.bucket, "Key": f.upload_key(self.sha256)})
        f._call("delete_object", Key=f.upload_key(self.sha256))
        f._complete.add(self.sha256)
        return True

    def abort_upload(self) -> None:
        if self.upload_id is not None:
            with contextlib.suppress(KeyError):
                self.files._call("abort_multipart_upload", Key=self.files.upload_key(self.sha256),
                                 UploadId=self.upload_id)
        self.upload_id, self.remote, self.parts = None, 0, []
