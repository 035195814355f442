"""``siyada ingest``, ``siyada search`` and ``siyada collections``: the knowledge base."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from siyada.cli.common import chunks, emit, fail, inputs, label_option, record_action
from siyada.config import Settings
from siyada.knowledge import Filters, KnowledgeBase, QueryResults, SearchMode
from siyada.knowledge.embed import EmbeddingError
from siyada.knowledge.ingest import FileResult, IngestReport, Outcome
from siyada.knowledge.search import MAX_QUERY_CHARS
from siyada.knowledge.store import StoreError

SNIPPET_CHARS = 240
SEARCH_BATCH = 64
"""Queries embedded and answered together when they come from stdin."""

collections_app = typer.Typer(help="List, show and delete collections.", no_args_is_help=False)
CollectionOption = Annotated[
    str, typer.Option("--collection", "-c", help="The collection's name.", show_default=False)
]


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)
    app.command("search")(search_command)
    app.add_typer(collections_app, name="collections")


def open_knowledge(ctx: typer.Context, embedder: str | None = None) -> KnowledgeBase:
    settings: Settings = ctx.find_root().obj
    if embedder is not None:
        settings = replace(settings, embedder=embedder)
    try:
        return KnowledgeBase(settings)
    except (StoreError, OSError, sqlite3.Error) as error:
        raise fail(f"cannot open the store in {settings.data_dir}: {error}", 1) from None


class _IngestProgress:
    """A progress bar on stderr (files, pages per second) when stderr is a terminal."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.pages = 0
        self._progress = Progress(
            TextColumn("[bold]ingesting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files · {task.fields[rate]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not sys.stderr.isatty(),
        )
        self._task = self._progress.add_task("ingest", total=None, rate="")

    def __enter__(self) -> _IngestProgress:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total)

    def advance(self, result: FileResult) -> None:
        self.pages += result.pages
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = f"{self.pages / elapsed:.1f} pages/s" if self.pages else ""
        self._progress.update(self._task, advance=1, rate=rate)


def _report_payload(name: str, report: IngestReport, seconds: float) -> dict[str, object]:
    return {
        "collection": name,
        **{outcome.value: report.count(outcome) for outcome in Outcome},
        "pages": report.pages,
        "chunks": sum(result.chunks for result in report.results),
        "seconds": round(seconds, 2),
        "failures": [{"document": r.name, "reason": r.reason} for r in report.failed],
    }


def _report_lines(name: str, report: IngestReport, seconds: float) -> Iterator[str]:
    counts = ", ".join(f"{report.count(outcome)} {outcome.value}" for outcome in Outcome)
    chunks_count = sum(result.chunks for result in report.results)
    files = len(report.results)
    speed = f"{files / seconds:.1f} files/s" if seconds > 0 else ""
    if report.pages and seconds > 0:
        speed += f", {report.pages / seconds:.1f} PDF pages/s"
    plural = "s" if report.pages > 1 else ""
    pages = f"{report.pages} PDF page{plural}, " if report.pages else ""
    yield (
        f"collection {name!r}: {counts}; {pages}{chunks_count} chunks in {seconds:.1f} s ({speed})"
    )
    for result in report.failed:
        yield f"  failed: {result.name}: {result.reason}"
    if report.failed and len(report.failed) < len(report.results):
        yield "The other files were ingested; fix or remove the failed ones and run again."


def ingest_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    collection: CollectionOption,
    prune: Annotated[
        bool, typer.Option(help="Remove documents whose files are gone from these folders.")
    ] = False,
    embedder: Annotated[
        str | None,
        typer.Option(
            help="For a new collection: e5 (default, in process), none, or openai:URL#MODEL."
        ),
    ] = None,
    max_file_mb: Annotated[int, typer.Option(min=1, help="Skip files larger than this.")] = 200,
    mask_pii: Annotated[
        bool,
        typer.Option(
            "--mask-pii",
            help="For a new collection: mask personal identifiers (CIN, RIB, phones...) in its "
            "documents before indexing.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Ingest PDF, Word, OpenDocument, HTML, Markdown and text files into a collection."""
    knowledge = open_knowledge(ctx, embedder)
    knowledge.settings = replace(knowledge.settings, max_file_mb=max_file_mb)
    existing = knowledge.store.collection(knowledge.settings.tenant, collection)
    if existing is None and mask_pii:
        try:
            knowledge.create_collection(
                knowledge.settings.tenant, collection, embedder, pii_redaction="mask"
            )
        except (StoreError, EmbeddingError) as error:
            knowledge.close()
            raise fail(str(error)) from None
    elif existing is not None and mask_pii and existing.pii_redaction != "mask":
        knowledge.close()
        raise fail(
            f"collection {collection!r} was created without --mask-pii; its documents keep "
            "personal identifiers (ingest into a new collection to mask them)"
        )
    if embedder is not None and existing is not None and existing.embedder != embedder:
        typer.echo(
            f"warning: collection {collection!r} keeps the embedder it was created with"
            f" ({existing.embedder}); --embedder {embedder} applies to new collections only",
            err=True,
        )
    started = time.perf_counter()
    try:
        with _IngestProgress() as progress:
            report = knowledge.ingest(
                knowledge.settings.tenant,
                collection,
                paths,
                prune=prune,
                on_start=progress.start,
                on_file=progress.advance,
            )
    except (StoreError, EmbeddingError, sqlite3.Error) as error:
        raise fail(str(error)) from None
    finally:
        knowledge.close()
    seconds = time.perf_counter() - started
    payload = _report_payload(collection, report, seconds)
    outcome = "ok" if not report.failed else f"{len(report.failed)} failed"
    record_action(
        ctx, "ingest", resource=collection, outcome=outcome, outputs=[json.dumps(payload)]
    )
    if as_json:
        emit([json.dumps(payload, ensure_ascii=False)])
    else:
        emit(_report_lines(collection, report, seconds))
    if report.failed:
        raise typer.Exit(1)


def _date_option(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD") from None


def _result_rows(results: QueryResults, as_json: bool) -> Iterator[str]:
    if as_json:
        yield json.dumps(results.to_dict(), ensure_ascii=False)
        return
    yield f"query: {results.query}  [{results.label}]"
    if not results.hits:
        yield "  no results"
    for number, hit in enumerate(results.hits, start=1):
        page = f" p.{hit.chunk.page}" if hit.chunk.page else ""
        heading = f"  § {hit.chunk.heading_path}" if hit.chunk.heading_path else ""
        snippet = " ".join(hit.chunk.text.split())
        if len(snippet) > SNIPPET_CHARS:
            snippet = snippet[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
        yield f"{number:3}. {hit.score:.4f}  {hit.chunk.document}{page}{heading}"
        yield f"     {snippet}"


def search_command(
    ctx: typer.Context,
    collection: CollectionOption,
    query: Annotated[
        str | None, typer.Argument(help="The query; one query per line from stdin when omitted.")
    ] = None,
    k: Annotated[int, typer.Option("-k", "--top", min=1, max=1000, help="Results per query.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per query.")] = False,
    mode: Annotated[SearchMode, typer.Option(help="Which rankings to use.")] = SearchMode.FUSED,
    document: Annotated[
        list[str] | None, typer.Option(help="Only these documents (name or path); repeatable.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Only chunks in this language label, e.g. fra_Latn.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Documents dated on or after YYYY-MM-DD.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Documents dated on or before YYYY-MM-DD.")
    ] = None,
) -> None:
    """Search a collection in any language or script; ranked chunks with document and page."""
    filters = Filters(
        documents=tuple(document or ()),
        language=label_option(language) if language else None,
        since=_date_option(since),
        until=_date_option(until),
    )
    knowledge = open_knowledge(ctx)
    try:
        knowledge.collection(knowledge.settings.tenant, collection)
        lines = inputs([query] if query is not None else None)
        warned = False
        for batch in chunks(lines, max_lines=SEARCH_BATCH):
            texts = [text.strip() for text in batch]
            if not warned and any(len(text) > MAX_QUERY_CHARS for text in texts):
                typer.echo(
                    f"warning: queries longer than {MAX_QUERY_CHARS} characters are cut there",
                    err=True,
                )
                warned = True
            answered = iter(
                knowledge.search(
                    knowledge.settings.tenant,
                    collection,
                    [t for t in texts if t],
                    k=k,
                    filters=filters,
                    mode=mode,
                )
            )
            rows: list[str] = []
            for text in texts:
                results = next(answered) if text else QueryResults(text, "und", [])
                rows.extend(_result_rows(results, as_json))
            emit(rows)
    except (StoreError, EmbeddingError, sqlite3.Error) as error:
        raise fail(str(error)) from None
    finally:
        knowledge.close()


@collections_app.callback(invoke_without_command=True)
def list_collections(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List the collections (with no sub-command)."""
    if ctx.invoked_subcommand is not None:
        return
    knowledge = open_knowledge(ctx)
    try:
        summaries = knowledge.collections(knowledge.settings.tenant)
    except sqlite3.Error as error:
        raise fail(f"cannot read the store: {error}", 1) from None
    finally:
        knowledge.close()
    if as_json:
        emit(json.dumps(summary.__dict__, ensure_ascii=False) for summary in summaries)
        return
    if not summaries:
        emit(["no collections yet: siyada ingest PATH --collection NAME"])
    emit(
        f"{s.name}\t{s.documents} documents\t{s.chunks} chunks\tembedder {s.embedder}"
        for s in summaries
    )


@collections_app.command("show")
def show_collection(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The collection's name.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List a collection's documents."""
    knowledge = open_knowledge(ctx)
    try:
        records = knowledge.store.documents(knowledge.collection(knowledge.settings.tenant, name))
    except (StoreError, sqlite3.Error) as error:
        raise fail(str(error)) from None
    finally:
        knowledge.close()
    if as_json:
        emit(json.dumps(record.__dict__, ensure_ascii=False) for record in records)
        return
    emit(f"{r.id}\t{r.name}\t{r.format}\t{r.pages} pages\t{r.chunks} chunks" for r in records)


@collections_app.command("delete")
def delete_collection(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The collection's name.")]
) -> None:
    """Delete a collection, its documents and their chunks."""
    knowledge = open_knowledge(ctx)
    try:
        knowledge.delete_collection(knowledge.settings.tenant, name)
    except (StoreError, sqlite3.Error) as error:
        raise fail(str(error)) from None
    finally:
        knowledge.close()
    record_action(ctx, "collections.delete", resource=name)
    emit([f"deleted collection {name!r}"])
