"""Upload staged content to Girder: a folder per directory, an item per file, metadata on both.

Asset metadata goes on the asset's folder (on the item for file assets); file metadata on each
item. Chunks do not apply to Girder. Re-exports reuse folders and items and skip current files.
"""

from __future__ import annotations

import json
import mimetypes
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import girder_client
import pandas as pd
import requests
from requests.adapters import HTTPAdapter

from hidebound_dagster.core.identity import sha256_file
from hidebound_dagster.core.redaction import url_secrets, url_without_secrets
from hidebound_dagster.exporters.base import (
    CONTENT,
    METADATA_TYPES,
    Exporter,
    ExportItem,
    ExportPlan,
    relative_path,
)
from hidebound_dagster.exporters.errors import retry

MiB = 1024 * 1024
GIRDER_METADATA_TYPES = ("asset", "file")
#: Item metadata: the sha256 of the bytes last uploaded to the item's file (Girder stores no
#: content hash of its own), so a file changed without changing size is sent again.
UPLOADED_SHA256 = "hidebound_uploaded_sha256"
ROOT = PurePosixPath(".")


def is_transient(error: BaseException) -> bool:
    """Connection failures, timeouts, 5xx and 429 are worth retrying; other 4xx are not."""
    if isinstance(error, girder_client.HttpError):
        return error.status >= 500 or error.status == 429
    return isinstance(error, requests.ConnectionError | requests.Timeout)


def _girder_message(error: girder_client.HttpError) -> str:
    """The `message` Girder put in an error response, else a short slice of the body."""
    try:
        return str(json.loads(error.responseText).get("message", ""))
    except (ValueError, AttributeError, TypeError):
        return (error.responseText or "")[:200]


def _ancestors(directory: PurePosixPath) -> list[PurePosixPath]:
    """Every directory from the top down to `directory`, without the root '.'."""
    return [parent for parent in (*reversed(directory.parents), directory) if parent != ROOT]


class _TimeoutSession(requests.Session):
    """A requests session with a default timeout and a connection pool sized for the workers."""

    def __init__(self, timeout: float, pool_size: int) -> None:
        super().__init__()
        self.timeout = timeout
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method, url, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, **kwargs)


class PooledGirderClient(girder_client.GirderClient):
    """A GirderClient whose threads share one pooled session with a default timeout; it pickles
    with its token, so workers of a process-based mapper can use it too."""

    def __init__(self, api_url: str, timeout: float, token: str = "") -> None:
        super().__init__(apiUrl=api_url)
        self.timeout = timeout
        self._session = _TimeoutSession(timeout, pool_size=32)  # as GirderClient.session() does
        self.setToken(token)

    def __reduce__(self):
        return type(self), (self.urlBase, self.timeout, self.token)


class GirderExporter(Exporter):
    """Mirrors `filepath_relative` as folders and items under a root collection or folder."""

    name = "girder"
    sent_metadata_types = ("asset",)  # file metadata travels with its item

    def __init__(
        self,
        api_key: str,
        root_id: str,
        root_type: str = "collection",
        host: str = "http://0.0.0.0",
        port: int = 8180,
        metadata_types: Iterable[str] = METADATA_TYPES,
        client: Any = None,
        *,
        attempts: int = 5,
        retry_delay: float = 0.5,
        timeout: float = 120.0,
        single_request_limit: int = 32 * MiB,
    ) -> None:
        super().__init__(metadata_types)
        self.metadata_types = tuple(t for t in self.metadata_types if t in GIRDER_METADATA_TYPES)
        if root_type not in ("collection", "folder"):
            raise ValueError(f"root_type must be 'collection' or 'folder', not {root_type!r}")
        self.root_id = root_id
        self.root_type = root_type
        self.api_url = f"{host.rstrip('/')}:{port}/api/v1"
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.single_request_limit = single_request_limit
        self._api_key = api_key
        self._client = client
        self._gc: Any = None  # the client in use during an export
        self._folders: dict[PurePosixPath, dict] = {}
        self._lock = threading.RLock()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_lock": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    @property
    def target(self) -> str:
        return f"girder {url_without_secrets(self.api_url)} {self.root_type} {self.root_id}"

    def _secrets(self) -> tuple[str, ...]:
        return (self._api_key, *url_secrets(self.api_url))

    def _retry(self, call):
        return retry(call, is_transient, attempts=self.attempts, base_delay=self.retry_delay)

    @contextmanager
    def _session(self, staging: Path, plan: ExportPlan) -> Iterator[None]:
        self._gc = self._client or PooledGirderClient(self.api_url, self.timeout)
        self._retry(self._authenticate)
        self._retry(self._check_root)
        self._make_folders(plan.content["relative"])
        yield

    def _authenticate(self) -> None:
        """Trade the API key for a token; the key goes in the body, never in a URL or log."""
        try:
            response = self._gc.post("api_key/token", data={"key": self._api_key})
        except girder_client.HttpError as error:
            if is_transient(error):
                raise
            raise self.error(
                f"authentication refused (HTTP {error.status}: "
                f"{_girder_message(error)}); check the API key"
            ) from None
        self._gc.setToken(response["authToken"]["token"])

    def _check_root(self) -> None:
        try:
            self._gc.get(f"{self.root_type}/{self.root_id}")
        except girder_client.HttpError as error:
            if is_transient(error):
                raise
            raise self.error(
                f"root {self.root_type} {self.root_id} is not accessible "
                f"(HTTP {error.status}: {_girder_message(error)})"
            ) from None

    def _make_folders(self, content: pd.Series) -> None:
        """Create every directory of the content (staging-relative paths), parents first,
        before items run in parallel."""
        parents = content.str.extract(f"(?s)^{CONTENT}/(.*)/", expand=False).fillna("").unique()
        directories = {PurePosixPath(parent) for parent in parents}  # "" is the root "."
        if ROOT in directories and self.root_type == "collection":
            raise self.error(
                "files at the ingress root cannot go into a collection (Girder "
                "items need a folder); export to a root_type='folder' instead"
            )
        self._folders = {}
        for directory in sorted(
            {a for d in directories for a in _ancestors(d)},
            key=lambda path: (len(path.parts), path.as_posix()),
        ):
            self._folder(directory)

    def _folder(self, path: PurePosixPath) -> dict:
        """The Girder folder document for a content directory, created when missing."""
        with self._lock:
            if path not in self._folders:
                parent_id, parent_type = (self.root_id, self.root_type)
                if path.parent != ROOT:
                    parent_id, parent_type = self._folder(path.parent)["_id"], "folder"
                self._folders[path] = self._retry(
                    lambda: self._gc.createFolder(
                        parent_id, path.name, parentType=parent_type, reuseExisting=True
                    )
                )
            return self._folders[path]

    def _item(self, path: PurePosixPath) -> dict:
        """The item for a file path (reused when it exists); files at '.' live in the root."""
        folder_id = self.root_id if path.parent == ROOT else self._folder(path.parent)["_id"]
        return self._retry(lambda: self._gc.createItem(folder_id, path.name, reuseExisting=True))

    def _export_content(self, item: ExportItem) -> bool:
        """The file first, then the metadata that describes it, so an item never claims a
        sha256 its file does not have."""
        path = PurePosixPath(item.relative).relative_to(CONTENT)
        document = self._item(path)
        source = Path(item.source)
        sha256 = item.sha256 or sha256_file(source)
        uploaded = self._retry(lambda: self._sync_file(document, source, path.name, sha256))
        changed = False
        if "file" in self.metadata_types:
            metadata = item.metadata()
            changed = self._retry(lambda: self._set_metadata("item", document, metadata))
        return changed or uploaded

    def _export_metadata(self, item: ExportItem) -> bool:
        """Asset metadata: on the asset folder, or on the item of a file-type asset."""
        metadata = item.metadata()
        path = PurePosixPath(relative_path(metadata["asset_path_relative"]))
        if metadata["asset_type"] == "file":
            document = self._item(path)
            return self._retry(lambda: self._set_metadata("item", document, metadata))
        folder = self._folder(path)
        return self._retry(lambda: self._set_metadata("folder", folder, metadata))

    def _set_metadata(self, kind: str, document: dict, metadata: dict) -> bool:
        """Merge `metadata` into a folder's or item's, keeping nulls; False when already there."""
        current = document.get("meta") or {}
        if all(key in current and current[key] == value for key, value in metadata.items()):
            return False
        self._gc.put(
            f"{kind}/{document['_id']}/metadata", parameters={"allowNull": "true"}, json=metadata
        )
        return True

    def _sync_file(self, document: dict, source: Path, name: str, sha256: str) -> bool:
        """Keep one file `name` in the item, of the staged size and, by the sha256 recorded on
        the item after its last upload, the staged bytes; replace anything else."""
        item_id = document["_id"]
        size = source.stat().st_size
        files = [f for f in self._gc.listFile(item_id) if f["name"] == name]
        recorded = (document.get("meta") or {}).get(UPLOADED_SHA256)
        same = recorded == sha256
        keep = next((f for f in files if f["size"] == size), None) if same else None
        stale = [f for f in files if f is not keep]
        for file in stale:
            self._gc.delete(f"file/{file['_id']}")
        if keep is None:
            self._upload(item_id, source, name, size)
            sent = {UPLOADED_SHA256: sha256_file(source)}  # the bytes really sent
            self._gc.put(f"item/{item_id}/metadata", json=sent)
        return keep is None or bool(stale)

    def _upload(self, item_id: str, source: Path, name: str, size: int) -> None:
        """Upload in one request when small, else in chunks; check the size Girder stored."""
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if size <= self.single_request_limit:
            parameters = {
                "parentType": "item",
                "parentId": item_id,
                "name": name,
                "size": size,
                "mimeType": mime,
            }
            created = self._gc.post(
                "file",
                parameters=parameters,
                data=source.read_bytes() if size else None,
                headers={"Content-Type": "application/octet-stream"},
            )
        else:
            with source.open("rb") as stream:
                created = self._gc.uploadFile(
                    item_id, stream, name, size, parentType="item", mimeType=mime
                )
        if created.get("_modelType") != "file" or created.get("size") != size:
            raise self.error(f"upload of {name} was not completed by the server")

    def _describe(self, error: BaseException) -> str:
        if isinstance(error, girder_client.HttpError):
            where = f"{error.method} {urlsplit(error.url or '').path}"
            retried = f" after {self.attempts} attempts" if is_transient(error) else ""
            return f"{where}: HTTP {error.status}{retried}: {_girder_message(error)}"
        if is_transient(error):
            return (
                f"cannot reach {url_without_secrets(self.api_url)} after {self.attempts} attempts "
                f"({type(error).__name__})"
            )
        return super()._describe(error)
