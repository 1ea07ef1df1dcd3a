"""``plinth kb create|add|search|list|rm|reembed``: knowledge bases (vector stores) from the shell.

The commands work in-process on the database and the file storage, through
the same :class:`VectorStores` code as the server: files added here are
stored as Files (purpose ``assistants``) and show up in the API. Stores made
here have no owning key, so over the API only admin keys see them (or pass
``--owner KEY_ID``). The stores are built by the server's own builder
(``build_vector_stores``) over an engine pool holding just the embedding
model, so a missing embedder degrades to lexical search here as it does there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import click

from plinth.billing.storage import StorageMeter
from plinth.cli.common import data_dir_option, print_json, print_table, settings_or_exit
from plinth.engines.pool import EnginePool
from plinth.errors import ChunkingError, PlinthError, VectorStoreNotFound
from plinth.files.storage import FileStorage, LocalFileStorage
from plinth.knowledge.chunking import AUTO, ChunkingStrategy
from plinth.knowledge.index import SearchOptions
from plinth.settings import Settings
from plinth.store.database import open_database
from plinth.store.door import Database
from plinth.store.files import FileRecord, FileStore, new_file_id, utc_now
from plinth.vectorstores.build import build_vector_stores, embedding_engines
from plinth.vectorstores.catalog import PageRequest, StoreRow
from plinth.vectorstores.service import Attachment, Owner, VectorStores

log = logging.getLogger(__name__)


@asynccontextmanager
async def opened(
    data_dir: Path | None, *, embed: bool = True
) -> AsyncIterator[tuple[Settings, VectorStores]]:
    """The server's VectorStores, built by the server's builder over this data dir.

    The engine pool holds just the embedding model (none with ``embed=False``):
    without it, or without the bundled embedder's package, stores are searched
    lexically, exactly as the server then does.
    """
    settings = settings_or_exit(data_dir=data_dir)
    async with AsyncExitStack() as stack:
        database = Database(open_database(settings.resolved_database_url))
        stack.callback(database.close)
        pool = EnginePool(embedding_engines(settings, database) if embed else [])
        stack.push_async_callback(pool.close)
        await pool.start()
        files = LocalFileStorage(settings.data_dir / "files")
        stack.callback(files.close)
        meter = StorageMeter(database.engine)
        stores = await build_vector_stores(
            settings, database, pool, files, meter, workers=0, embedding=embed
        )
        stack.callback(stores.close)
        yield settings, stores


async def resolve(stores: VectorStores, name_or_id: str) -> StoreRow:
    try:
        return await stores.visible(name_or_id, None)
    except VectorStoreNotFound:
        pass
    named = await stores.named(name_or_id)
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(s.id for s in named)
        raise click.ClickException(f"several stores are named '{name_or_id}' ({ids}): use an id")
    raise click.ClickException(f"no vector store with id or name '{name_or_id}'")


def walk(paths: tuple[Path, ...]) -> Iterator[Path]:
    """Files under ``paths`` (folders recursively), skipping hidden files and folders."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                relative = child.relative_to(path).parts
                if child.is_file() and not any(p.startswith(".") for p in relative):
                    yield child
        elif path.is_file():
            yield path


@click.group()
def kb() -> None:
    """Knowledge bases: OpenAI vector stores, managed in-process."""


@kb.command()
@click.argument("name")
@click.option("--chunk-size", type=int, default=None, help="Tokens per chunk (100–4096).")
@click.option("--chunk-overlap", type=int, default=None, help="Tokens shared by neighbours.")
@click.option("--owner", default=None, help="Key id that owns the store (default: admins only).")
@data_dir_option
def create(
    name: str,
    chunk_size: int | None,
    chunk_overlap: int | None,
    owner: str | None,
    data_dir: Path | None,
) -> None:
    """Create a vector store."""
    try:
        strategy = (
            None
            if chunk_size is None and chunk_overlap is None
            else ChunkingStrategy(
                chunk_size or AUTO.max_chunk_size_tokens,
                chunk_overlap if chunk_overlap is not None else (chunk_size or 800) // 4,
            )
        )
    except ChunkingError as exc:
        raise click.BadParameter(str(exc), param_hint="--chunk-size/--chunk-overlap") from None

    async def run() -> StoreRow:
        # With the embedder loaded, so the index is made with its dimensions.
        async with opened(data_dir) as (_, stores):
            return await stores.create(
                Owner(key_id=owner),
                name,
                chunking=None if strategy is None else strategy.to_openai(),
            )

    store = asyncio.run(run())
    click.echo(f"Created vector store {store.id} ({store.name}).")


@kb.command()
@click.argument("store")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@data_dir_option
def add(store: str, paths: tuple[Path, ...], data_dir: Path | None) -> None:
    """Add files (folders recursively) to a store; failures are listed at the end."""
    from tqdm import tqdm

    failures: list[tuple[Path, str]] = []

    async def run() -> int:
        async with opened(data_dir) as (settings, stores):
            target = await resolve(stores, store)
            strategy = ChunkingStrategy.from_openai(target.chunking)
            storage = stores.ingestion.files
            files = FileStore(stores.db.engine)
            todo = list(walk(paths))
            done = 0
            for path in tqdm(todo, desc=f"adding to {target.name or target.id}", unit="file"):
                try:
                    data = path.read_bytes()
                    if len(data) > settings.files_max_bytes:
                        raise ValueError(f"larger than files_max_bytes ({len(data)} bytes)")
                    file_id = await _store_file(stores.db, storage, files, target, path, data)
                    await stores.attach(
                        target, [Attachment(file_id, path.name, strategy, {})], queue=False
                    )
                    status = await stores.ingestor.ingest(target.id, file_id)
                    if status != "completed":
                        row = await stores.file(target, file_id)
                        raise ValueError(row.error_message or status)
                    done += 1
                except (OSError, ValueError, PlinthError) as exc:  # report per file, keep going
                    failures.append((path, str(exc) or type(exc).__name__))
            return done

    done = asyncio.run(run())
    click.echo(f"Added {done} file(s).")
    if failures:
        click.echo(f"{len(failures)} file(s) failed:", err=True)
        for path, reason in failures:
            click.echo(f"  {path}: {reason}", err=True)
        raise SystemExit(1)


async def _store_file(
    db: Database,
    storage: FileStorage,
    files: FileStore,
    store: StoreRow,
    path: Path,
    data: bytes,
) -> str:
    """Save the bytes as a File (purpose ``assistants``) owned like the store.

    As ``POST /v1/files`` does: no bytes without a record (removed if the record fails).
    """
    name = path.name

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    file_id = new_file_id()
    size, sha256 = await storage.save(file_id, chunks(), len(data) + 1)
    record = FileRecord(
        id=file_id,
        key_id=store.key_id,
        filename=name[:512],
        purpose="assistants",
        bytes=size,
        sha256=sha256,
        created_at=utc_now(),
        expires_at=None,
    )
    try:
        await db.run(files.add, record)
    except BaseException:
        storage.delete(file_id)
        raise
    return file_id


@kb.command()
@click.argument("store")
@click.argument("query")
@click.option("-n", "--max-results", default=5, type=click.IntRange(1, 50))
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
@data_dir_option
def search(store: str, query: str, max_results: int, as_json: bool, data_dir: Path | None) -> None:
    """Search a store (hybrid: BM25 + embeddings)."""

    async def run() -> list[dict[str, Any]]:
        async with opened(data_dir) as (_, stores):
            target = await resolve(stores, store)
            results = await stores.search(
                target, [query], SearchOptions(max_num_results=max_results)
            )
            return [
                {
                    "file_id": hit.file_id,
                    "filename": name,
                    "score": round(hit.score, 4),
                    "attributes": hit.attributes,
                    "text": hit.text,
                }
                for hit, name in results
            ]

    hits = asyncio.run(run())
    if as_json:
        print_json(hits)
        return
    if not hits:
        click.echo("(no results)")
    for rank, hit in enumerate(hits, 1):
        snippet = " ".join(hit["text"].split())[:200]
        click.echo(f"{rank}. {hit['score']:.3f}  {hit['filename']}  ({hit['file_id']})")
        click.echo(f"   {snippet}")


@kb.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@data_dir_option
def list_stores(fmt: str, data_dir: Path | None) -> None:
    """List vector stores (all owners)."""

    async def run() -> list[dict[str, Any]]:
        rows = []
        async with opened(data_dir, embed=False) as (_, stores):
            after = None
            while True:
                page = await stores.page(None, PageRequest(100, True, after))
                for store in page.rows:
                    counts = (await stores.store_json(store))["file_counts"]
                    rows.append(
                        {
                            "id": store.id,
                            "name": store.name,
                            "files": counts["total"],
                            "completed": counts["completed"],
                            "failed": counts["failed"],
                            "usage_bytes": store.usage_bytes,
                            "owner": store.key_id,
                        }
                    )
                if not page.has_more:
                    return rows
                after = page.rows[-1].id

    rows = asyncio.run(run())
    if fmt == "json":
        print_json(rows)
    else:
        print_table(rows, ["id", "name", "files", "completed", "failed", "usage_bytes", "owner"])


@kb.command()
@click.argument("store")
@data_dir_option
def rm(store: str, data_dir: Path | None) -> None:
    """Delete a vector store and its index (the Files stay)."""

    async def run() -> StoreRow:
        async with opened(data_dir, embed=False) as (_, stores):
            target = await resolve(stores, store)
            await stores.delete(target)
            return target

    target = asyncio.run(run())
    click.echo(f"Deleted vector store {target.id} ({target.name}).")


@kb.command()
@click.argument("store")
@click.option("--model", help="The embedding model to re-embed with (a loaded one).")
@data_dir_option
def reembed(store: str, model: str | None, data_dir: Path | None) -> None:
    """Re-embed a store with another embedding model, or (no --model) show the last run.

    Searches, here and on a running server, keep the old vectors until every
    chunk has a new one, then switch at once. Interrupted, the run goes on
    from where it stopped when started again with the same model.
    """

    async def run() -> dict[str, Any]:
        async with opened(data_dir, embed=model is not None) as (_, stores):
            target = await resolve(stores, store)
            if model is None:
                found = await stores.reembeds.status(target.id)
                if found is None:
                    raise click.ClickException(f"{target.id} has not been re-embedded")
                return {**found.json(), "current_model": found.current_model}
            try:
                await stores.reembeds.start(target, model)
            except PlinthError as exc:
                raise click.ClickException(exc.message) from None
            waiting = asyncio.create_task(stores.reembeds.wait(target.id))
            while not waiting.done():
                await asyncio.wait([waiting], timeout=5)
                now = await stores.reembeds.status(target.id)
                if now is not None:
                    click.echo(f"{now.status}: {now.done}/{now.total} chunks", err=True)
            finished = waiting.result()
            assert finished is not None
            return finished.json()

    print_json(asyncio.run(run()))
