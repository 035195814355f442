"""``siyada ask`` and ``siyada models``: grounded answers and the models behind them."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from siyada.assistant import (
    Answer,
    AnswerPiece,
    ArabiziAnswer,
    AskOptions,
    AssistantError,
    ConversationError,
    Conversations,
    Preamble,
    PrivacyGuard,
    ask,
)
from siyada.assistant.pipeline import MAX_SOURCES
from siyada.cli.common import current_tenant, emit, fail, inputs, record_action, write
from siyada.cli.knowledge import CollectionOption, open_knowledge
from siyada.config import Settings
from siyada.database import SchemaError
from siyada.governance.access import PiiPolicy
from siyada.knowledge import KnowledgeBase
from siyada.knowledge.embed import EmbeddingError
from siyada.knowledge.store import StoreError
from siyada.models import (
    ChatModel,
    ModelCard,
    ModelDamaged,
    ModelError,
    ModelProtocolError,
    ModelRecord,
    ModelRegistry,
    ModelTimeout,
    ModelUnavailable,
)
from siyada.models.files import Progress as ProgressCallback
from siyada.models.files import check_sha256, download
from siyada.models.openai_http import OpenAIChatModel, Strategy
from siyada.models.registry import DEFAULT_CONTEXT, Backend, check_context


class AddableBackend(StrEnum):
    """The backends ``models add`` registers (the extractive model is built in)."""

    LLAMA = Backend.LLAMA.value
    OPENAI = Backend.OPENAI.value


models_app = typer.Typer(help="Register, list, check and remove models.", no_args_is_help=False)
ModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help="A registered model (default: the default model)."),
]


conversations_app = typer.Typer(help="List, show and delete conversations.")


def register(app: typer.Typer) -> None:
    app.command("ask")(ask_command)
    app.add_typer(models_app, name="models")
    app.add_typer(conversations_app, name="conversations")


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.find_root().obj
    return settings


@contextmanager
def _registry(ctx: typer.Context) -> Iterator[ModelRegistry]:
    settings = _settings(ctx)
    try:
        registry = ModelRegistry(settings.database_path, settings.egress)
    except (OSError, sqlite3.Error, SchemaError) as error:
        raise fail(f"cannot open the model registry in {settings.data_dir}: {error}", 1) from None
    try:
        yield registry
    except (ModelUnavailable, ModelTimeout, ModelProtocolError) as error:
        raise fail(str(error), 1) from None  # the backend failed, not the command
    except (ModelError, sqlite3.Error) as error:
        raise fail(str(error)) from None
    finally:
        registry.close()


@contextmanager
def _progress(label: str) -> Iterator[ProgressCallback]:
    """A byte progress bar on stderr when it is a terminal."""
    bar = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
    )
    task = bar.add_task(label, total=None)

    def update(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update


def _answer_json(answer: Answer) -> str:
    return json.dumps({"question": answer.question, **answer.to_dict()}, ensure_ascii=False)


def _print_sources(answer: Answer) -> None:
    if not answer.sources:
        return
    rows = ["", "Sources (* cited):"]
    for source in answer.sources:
        page = f", page {source.page}" if source.page else ""
        mark = "*" if source.cited else " "
        rows.append(f" {mark}[{source.n}] {source.document}{page}")
    emit(rows)
    if answer.dropped_citations:
        dropped = ", ".join(str(n) for n in answer.dropped_citations)
        typer.echo(f"(dropped citations to sources that were not retrieved: {dropped})", err=True)


def _answer_one(
    knowledge: KnowledgeBase,
    model: ChatModel,
    question: str,
    collection: str,
    options: AskOptions,
    conversations: Conversations | None,
    conversation: str | None,
    as_json: bool,
    pii_policy: PiiPolicy,
) -> str:
    """Print the answer to one question as it streams; return its text."""
    tenant = knowledge.settings.tenant
    history = (
        conversations.history(tenant, conversation)
        if conversations is not None and conversation is not None
        else []
    )
    events = ask(
        knowledge,
        model,
        tenant,
        question,
        collections=[collection],
        history=history,
        options=options,
        privacy=PrivacyGuard(pii_policy),
    )
    streamed = False
    text = ""
    try:
        for event in events:
            if isinstance(event, Preamble):
                if event.notice and not as_json:
                    typer.echo(f"({event.notice})", err=True)
            elif isinstance(event, AnswerPiece):
                if not as_json:
                    write([event.text])
                    streamed = True
            else:
                text = event.answer
                if conversations is not None and conversation is not None:
                    conversations.append(tenant, conversation, question, event.answer)
                if as_json:
                    emit([_answer_json(event)])
                else:
                    write(["\n"])
                    _print_sources(event)
    except (ModelError, AssistantError):
        if streamed:
            write(["\n"])
            typer.echo("(the answer was cut short)", err=True)
        raise
    return text


def ask_command(
    ctx: typer.Context,
    collection: CollectionOption,
    question: Annotated[
        str | None,
        typer.Argument(help="The question; one question per line from stdin when omitted."),
    ] = None,
    model_name: ModelOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per question (answer and sources).")
    ] = False,
    k: Annotated[
        int, typer.Option("-k", "--sources", min=1, max=MAX_SOURCES, help="Sources to retrieve.")
    ] = 5,
    conversation: Annotated[
        str | None,
        typer.Option(help="Continue (or start) this named conversation: follow-ups work."),
    ] = None,
    arabizi_answer: Annotated[
        ArabiziAnswer,
        typer.Option(help="Answer Arabizi questions in Arabizi (latin) or Arabic script."),
    ] = ArabiziAnswer.LATIN,
    max_tokens: Annotated[
        int, typer.Option(min=1, max=32768, help="Most tokens the answer may take.")
    ] = 512,
    temperature: Annotated[
        float, typer.Option(min=0.0, max=2.0, help="Sampling temperature (0: greedy).")
    ] = 0.2,
    timeout: Annotated[
        float,
        typer.Option(min=0.1, max=3600, help="Seconds the model may take to answer in all."),
    ] = 120.0,
    seed: Annotated[int | None, typer.Option(help="Sampling seed, for repeatable answers.")] = None,
) -> None:
    """Answer a question from a collection, citing the sources (document, page).

    With no generative model configured, the built-in extractive model quotes the sentences
    that best answer the question.
    """
    options = AskOptions(k, max_tokens, temperature, timeout, arabizi_answer, seed)
    knowledge = open_knowledge(ctx)
    settings = _settings(ctx)
    conversations: Conversations | None = None
    failed = False
    try:
        with _registry(ctx) as registry:
            record = registry.get(settings.tenant, model_name) if model_name else None
            knowledge.collection(settings.tenant, collection)
            model = _load(registry, settings.tenant, record)
            pii_policy = current_tenant(ctx).pii_policy
            if conversation is not None:
                conversations = Conversations(settings.database_path)
            single = question is not None
            lines = iter([question]) if question is not None else inputs(None)
            for line in lines:
                try:
                    answer = _answer_one(
                        knowledge,
                        model,
                        line,
                        collection,
                        options,
                        conversations,
                        conversation,
                        as_json,
                        pii_policy,
                    )
                    record_action(ctx, "ask", resource=collection, inputs=[line], outputs=[answer])
                except (AssistantError, ModelError) as error:
                    record_action(ctx, "ask", resource=collection, outcome="refused", inputs=[line])
                    if single:
                        raise
                    failed = True
                    if as_json:
                        failure = {"question": line, "error": str(error)}
                        emit([json.dumps(failure, ensure_ascii=False)])
                    else:
                        typer.echo(f"error: {error}", err=True)
    except AssistantError as error:
        raise fail(str(error)) from None
    except (StoreError, EmbeddingError, ConversationError, sqlite3.Error) as error:
        raise fail(str(error)) from None
    finally:
        if conversations is not None:
            conversations.close()
        knowledge.close()
    if failed:
        raise typer.Exit(1)


def _load(registry: ModelRegistry, tenant: str, record: ModelRecord | None) -> ChatModel:
    chosen = record or registry.default(tenant)
    if chosen.backend is Backend.LLAMA:
        with _progress(f"checking {chosen.name}") as progress:
            registry.verify(tenant, chosen, progress)
    return registry.load(tenant, chosen.name)


def _record_rows(records: list[ModelRecord], as_json: bool) -> Iterator[str]:
    for record in records:
        if as_json:
            yield json.dumps(record.to_dict(), ensure_ascii=False)
            continue
        default = " (default)" if record.default else ""
        where = record.location.get("path") or ", ".join(record.location.get("urls", [])) or "-"
        yield f"{record.name}{default}\t{record.backend.value}\t{record.card.license}\t{where}"


@models_app.callback(invoke_without_command=True)
def list_models(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List the registered models (with no sub-command)."""
    if ctx.invoked_subcommand is None:
        list_command(ctx, as_json)


@models_app.command("list")
def list_command(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List the registered models: name, backend, license, location."""
    with _registry(ctx) as registry:
        emit(_record_rows(registry.list(_settings(ctx).tenant), as_json))


def _card(
    license_name: str, languages: list[str] | None, source: str, description: str
) -> ModelCard:
    return ModelCard(license_name, tuple(languages or ()), source, description)


LicenseOption = Annotated[
    str, typer.Option("--license", help="The model's license, e.g. Apache-2.0.")
]
LanguageOption = Annotated[
    list[str] | None, typer.Option("--language", help="A language it handles; repeatable.")
]
SourceOption = Annotated[str, typer.Option(help="Where the weights come from (URL, publisher).")]
DescriptionOption = Annotated[str, typer.Option(help="One line about the model.")]
DefaultOption = Annotated[bool, typer.Option("--default", help="Make it the default model.")]


@models_app.command("add")
def add_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the model, e.g. mistral-7b.")],
    backend: Annotated[AddableBackend, typer.Option(help="llama (a local GGUF file) or openai.")],
    path: Annotated[Path | None, typer.Option(help="The GGUF file (llama).")] = None,
    sha256: Annotated[
        str | None, typer.Option(help="Expected SHA-256 of the file (llama); checked now.")
    ] = None,
    url: Annotated[
        list[str] | None,
        typer.Option(help="An endpoint, e.g. http://10.0.0.5:8000/v1 (openai); repeatable."),
    ] = None,
    model_id: Annotated[str, typer.Option(help="The model's name on the server (openai).")] = "",
    strategy: Annotated[Strategy, typer.Option(help="How to spread requests.")] = (
        Strategy.ROUND_ROBIN
    ),
    api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the API key (openai).")
    ] = None,
    context: Annotated[
        int | None, typer.Option(help="Context size in tokens (llama default 4096).")
    ] = None,
    license_name: LicenseOption = "unknown",
    language: LanguageOption = None,
    source: SourceOption = "",
    description: DescriptionOption = "",
    make_default: DefaultOption = False,
) -> None:
    """Register a model: a local GGUF file (llama) or OpenAI-compatible endpoints (openai)."""
    card = _card(license_name, language, source, description)
    with _registry(ctx) as registry:
        if backend is AddableBackend.LLAMA:
            if path is None or url:
                raise fail("a llama model needs --path FILE.gguf (and no --url)")
            with _progress(f"hashing {path.name}") as progress:
                record = registry.add_llama(
                    _settings(ctx).tenant,
                    name,
                    path,
                    sha256=sha256,
                    card=card,
                    context=DEFAULT_CONTEXT if context is None else context,
                    make_default=make_default,
                    on_progress=progress,
                )
        else:
            if path is not None or sha256 is not None:
                raise fail("an openai model takes --url and --model-id, not --path/--sha256")
            record = registry.add_openai(
                _settings(ctx).tenant,
                name,
                url or [],
                model_id=model_id,
                card=card,
                strategy=strategy,
                api_key_env=api_key_env,
                context=context,
                make_default=make_default,
            )
    checksum = f", sha256 {record.sha256}" if record.sha256 else ""
    record_action(ctx, "models.add", resource=record.name, inputs=[json.dumps(record.location)])
    typer.echo(f"added {record.name} ({record.backend.value}){checksum}")


@models_app.command("show")
def show_command(
    ctx: typer.Context,
    name: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    check: Annotated[
        bool,
        typer.Option(help="Check it: probe the endpoints, or hash and load the GGUF file."),
    ] = False,
) -> None:
    """Show a model's card, location and checksum; --check exits 1 when it cannot answer."""
    with _registry(ctx) as registry:
        record = registry.get(_settings(ctx).tenant, name)
        details = record.to_dict()
        healthy = True
        if check:
            if record.backend is Backend.LLAMA:
                with _progress(f"checking {record.name}") as progress:
                    registry.verify(_settings(ctx).tenant, record, progress, always=True)
            model = registry.load(_settings(ctx).tenant, record.name)
            report = (
                model.check_health()
                if isinstance(model, OpenAIChatModel)
                else {"sha256": "ok", "load": "ok"}
            )
            healthy = any(status == "ok" for status in report.values())
            details["check"] = report
    if as_json:
        emit([json.dumps(details, ensure_ascii=False)])
    else:
        for key, value in details.items():
            shown = (
                json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
            )
            typer.echo(f"{key}: {shown}")
    if not healthy:
        raise typer.Exit(1)


@models_app.command("remove")
def remove_command(ctx: typer.Context, name: str) -> None:
    """Unregister a model (its file, if any, is left on disk)."""
    with _registry(ctx) as registry:
        registry.remove(_settings(ctx).tenant, name)
    record_action(ctx, "models.remove", resource=name)
    typer.echo(f"removed {name}")


@models_app.command("default")
def default_command(ctx: typer.Context, name: str) -> None:
    """Make a registered model the default for siyada ask."""
    with _registry(ctx) as registry:
        registry.set_default(_settings(ctx).tenant, name)
    record_action(ctx, "models.default", resource=name)
    typer.echo(f"{name} is now the default model")


@models_app.command("pull")
def pull_command(
    ctx: typer.Context,
    name: str,
    url: Annotated[str, typer.Argument(help="Where to download the GGUF file from.")],
    sha256: Annotated[str, typer.Option(help="The file's published SHA-256 (required).")],
    context: Annotated[int, typer.Option(help="Context size in tokens.")] = 4096,
    license_name: LicenseOption = "unknown",
    language: LanguageOption = None,
    description: DescriptionOption = "",
    make_default: DefaultOption = False,
) -> None:
    """Download a GGUF model (resuming a partial download), check its SHA-256 and register it.

    For operators who are online; Siyada never downloads anything on its own.
    """
    target = _settings(ctx).data_dir / "models" / f"{name}.gguf"
    with _registry(ctx) as registry:
        # Everything that could refuse the model is checked before a long download.
        registry.check_new(_settings(ctx).tenant, name)
        check_context(context)
        check_sha256(sha256)
        from siyada.models.llama import require_gguf_reader

        require_gguf_reader()
        if target.exists():
            raise fail(f"{target} exists but is not registered; move it away first")
        with _progress(f"downloading {name}") as progress:
            download(url, target, sha256, on_progress=progress)
        card = _card(license_name, language, url, description)
        try:
            record = registry.add_llama(
                _settings(ctx).tenant,
                name,
                target,
                sha256=sha256,
                card=card,
                context=context,
                make_default=make_default,
                verified=True,
            )
        except ModelDamaged:
            target.unlink()  # it matched the checksum but is no GGUF model: do not keep it
            raise
    record_action(ctx, "models.pull", resource=record.name, inputs=[url])
    typer.echo(f"downloaded and added {record.name}: {target}")


@contextmanager
def _conversations(ctx: typer.Context) -> Iterator[Conversations]:
    settings = _settings(ctx)
    try:
        conversations = Conversations(settings.database_path)
    except (OSError, sqlite3.Error, SchemaError) as error:
        raise fail(f"cannot open {settings.database_path}: {error}", 1) from None
    try:
        yield conversations
    except (ConversationError, sqlite3.Error) as error:
        raise fail(str(error)) from None
    finally:
        conversations.close()


@conversations_app.callback(invoke_without_command=True)
def list_conversations(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List the conversations (with no sub-command): name, questions, start."""
    if ctx.invoked_subcommand is not None:
        return
    with _conversations(ctx) as conversations:
        rows = conversations.names(_settings(ctx).tenant)
    emit(
        json.dumps({"name": name, "questions": count, "created_at": created}, ensure_ascii=False)
        if as_json
        else f"{name}\t{count}\t{created}"
        for name, count, created in rows
    )


@conversations_app.command("show")
def show_conversation(
    ctx: typer.Context, name: str, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Print a conversation's questions and answers."""
    with _conversations(ctx) as conversations:
        history = conversations.history(_settings(ctx).tenant, name)
    if not history:
        raise fail(f"no conversation named {name!r}")
    emit(
        json.dumps({"role": m.role, "content": m.content}, ensure_ascii=False)
        if as_json
        else f"{m.role}: {m.content}"
        for m in history
    )


@conversations_app.command("delete")
def delete_conversation(ctx: typer.Context, name: str) -> None:
    """Forget a conversation."""
    with _conversations(ctx) as conversations:
        if not conversations.delete(_settings(ctx).tenant, name):
            raise fail(f"no conversation named {name!r}")
    typer.echo(f"deleted conversation {name}")
