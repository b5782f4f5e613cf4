"""Uploaded files (models and input sequences) on disk, content-addressed by SHA-256.

An entry is two files in the store's folder: ``<sha256>.<kind>`` (the bytes as received,
``kind`` model or inputs) and ``<sha256>.<kind>.json`` (what was read from them: the format,
the size, the architecture or the shape). An upload is written to a temporary file in the
same folder while it is hashed (``Upload``); it becomes an entry only once it has been
received whole AND read without error (the caller's ``validate``): then it is fsynced and
renamed into place (``os.replace``, atomic on one file system), its metadata first. A refused,
truncated or abandoned upload removes its temporary file and leaves no entry.

The store is bounded in bytes (``model_store_bytes``): after each new entry the least
recently used ones are removed until the rest fit (the new one is never removed; reading an
entry touches it, its files' mtime, so the order survives a restart).

One server process: the lock is a thread lock, so two server processes sharing one folder
could evict each other's entries while the other reads them (an analysis that finds its file
gone fails with that reason, never a wrong answer, since a name is its content's hash). Run
the model API with one server process, as the training jobs (server/jobs.py).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("model", "inputs")
TEMP_PREFIX = ".upload-"
STALE_SECONDS = 3600  # temporary files older than this, left by a crash, are removed
SHA256_HEX = 64


def default_dir() -> Path:
    """<temp dir>/bpttlab-models-<user>: private to the user, cleared with the temp dir."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name (a container without /etc/passwd entry)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"bpttlab-models-{user}"


def is_sha(text: str) -> bool:
    return len(text) == SHA256_HEX and all(c in "0123456789abcdef" for c in text)


@dataclass(frozen=True)
class Entry:
    sha256: str
    kind: str
    path: Path
    meta: dict[str, Any]


class Upload:
    """A file being received: ``write`` chunks (hashed as they come), then the store's
    ``commit`` or ``discard``. Its bytes so far: ``size``."""

    def __init__(self, folder: Path):
        self.path = folder / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        self._file = open(self.path, "xb")  # noqa: SIM115 (closed by close/discard)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._file.write(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def flush(self) -> None:
        """What was written so far, readable from the file (not yet fsynced)."""
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        """Flush and fsync: the bytes are on disk before the file is renamed into place."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


class ModelStore:
    """The store in ``folder``, at most ``max_bytes`` bytes (see the module)."""

    def __init__(self, folder: str | os.PathLike | None, max_bytes: int):
        self.folder = Path(folder) if folder else default_dir()
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._remove_stale()

    # -- reading ----------------------------------------------------------------------------

    def _data(self, sha: str, kind: str) -> Path:
        return self.folder / f"{sha}.{kind}"

    def _meta(self, sha: str, kind: str) -> Path:
        return self.folder / f"{sha}.{kind}.json"

    def get(self, sha: str, kind: str = "model", touch: bool = True) -> Entry | None:
        """The entry (and it becomes the most recently used), or None if the store has it not
        (never had it, or evicted it)."""
        if kind not in KINDS or not is_sha(sha):
            return None
        with self._lock:
            data, meta = self._data(sha, kind), self._meta(sha, kind)
            try:
                info = json.loads(meta.read_text(encoding="utf-8"))
                if touch:
                    now = time.time()
                    os.utime(data, (now, now))
                    os.utime(meta, (now, now))
            except (OSError, ValueError):
                return None
            return Entry(sha, kind, data, info)

    def entries(self) -> list[tuple[float, int, str, str]]:
        """(last used, bytes, sha, kind) of every entry, least recently used first."""
        out = []
        for meta in self.folder.glob("*.json"):
            sha, kind, _ = meta.name.split(".", 2) if meta.name.count(".") == 2 else ("", "", "")
            if kind not in KINDS:
                continue
            data = self._data(sha, kind)
            try:
                used, size = data.stat().st_mtime, data.stat().st_size + meta.stat().st_size
            except OSError:
                continue
            out.append((used, size, sha, kind))
        return sorted(out)

    def used_bytes(self) -> int:
        return sum(size for _, size, _, _ in self.entries())

    # -- writing ----------------------------------------------------------------------------

    def receive(self) -> Upload:
        """A temporary file for an upload."""
        return Upload(self.folder)

    def commit(self, upload: Upload, kind: str, meta: dict[str, Any]) -> Entry:
        """The received, validated upload as an entry (if the store has its hash already, the
        upload is dropped and the entry touched); then the least recently used entries are
        evicted until the store fits its bound."""
        upload.close()
        sha = upload.sha256
        with self._lock:
            data, meta_path = self._data(sha, kind), self._meta(sha, kind)
            if data.exists() and meta_path.exists():
                upload.discard()
            else:
                staged = self.folder / f"{TEMP_PREFIX}{uuid.uuid4().hex}.json"
                with open(staged, "x", encoding="utf-8") as f:
                    json.dump(meta, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(upload.path, data)
                os.replace(staged, meta_path)  # the entry exists from here on
                self._sync_folder()
        entry = self.get(sha, kind)
        self._evict(keep=(sha, kind))
        if entry is None:  # removed between the two steps by a second process
            raise OSError(f"the store lost {sha} while it was written")
        return entry

    def remove(self, sha: str, kind: str) -> None:
        with self._lock:
            self._meta(sha, kind).unlink(missing_ok=True)  # no longer an entry from here on
            self._data(sha, kind).unlink(missing_ok=True)

    def _evict(self, keep: tuple[str, str]) -> None:
        entries = self.entries()
        total = sum(size for _, size, _, _ in entries)
        for _, size, sha, kind in entries:
            if total <= self.max_bytes:
                return
            if (sha, kind) == keep:
                continue
            self.remove(sha, kind)
            total -= size

    def _sync_folder(self) -> None:
        try:
            fd = os.open(self.folder, os.O_RDONLY)
        except OSError:  # not on every platform
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _remove_stale(self) -> None:
        """Temporary files a crashed server left behind (a live upload's are recent)."""
        now = time.time()
        for path in self.folder.glob(f"{TEMP_PREFIX}*"):
            try:
                if now - path.stat().st_mtime > STALE_SECONDS:
                    path.unlink()
            except OSError:
                pass
