"""The answer pipeline: retrieval, prompt, citations, answer script, conversations, bad input."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyada.assistant import (
    Answer,
    AnswerPiece,
    ArabiziAnswer,
    AskOptions,
    AssistantError,
    Preamble,
    ask,
)
from siyada.assistant.citations import Citations
from siyada.assistant.prompt import fit_passages
from siyada.assistant.rewrite import is_followup, search_query
from siyada.assistant.script import script_policy
from siyada.assistant.stream import AnswerRewriter
from siyada.config import Settings
from siyada.knowledge import KnowledgeBase
from siyada.knowledge.store import DEFAULT_TENANT
from siyada.lang import Label
from siyada.lang.translit.tifinagh import TIFINAGH
from siyada.models import ChatRequest, Delta, Message, Passage
from siyada.models.extractive import ExtractiveModel
from siyada.models.openai_http import OpenAIChatModel
from tests.cli import siyada
from tests.openai_server import Script, openai_server, unused_url

EXAMPLES = Path(__file__).parent.parent / "examples"
ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
BIRTH_FEE = "chhal kaytkhlles l'extrait d'acte de naissance?"


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    home = tmp_path_factory.mktemp("assistant")
    base = KnowledgeBase(Settings(data_dir=home, embedder="none"))
    base.ingest(DEFAULT_TENANT, "examples", [EXAMPLES / "fr", EXAMPLES / "ar", EXAMPLES / "zgh"])
    yield base
    base.close()


@pytest.fixture(scope="module")
def data_dir(knowledge: KnowledgeBase) -> Path:
    return knowledge.settings.data_dir


def run(
    knowledge: KnowledgeBase,
    model: object,
    question: str,
    history: tuple[Message, ...] = (),
    options: AskOptions | None = None,
) -> tuple[list[str], Answer]:
    pieces: list[str] = []
    answer: Answer | None = None
    for event in ask(
        knowledge,
        model,  # type: ignore[arg-type]
        DEFAULT_TENANT,
        question,
        collections=["examples"],
        history=history,
        options=options or AskOptions(),
    ):
        if isinstance(event, AnswerPiece):
            pieces.append(event.text)
        elif isinstance(event, Answer):
            answer = event
        else:
            assert isinstance(event, Preamble)
    assert answer is not None
    return pieces, answer


class ScriptedModel:
    """An in-process model that streams fixed pieces and records its requests."""

    name = "scripted"
    generative = True
    context_tokens: int | None = None

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.requests: list[ChatRequest] = []

    def count_tokens(self, text: str) -> int:
        return len(text)

    def stream(self, request: ChatRequest) -> Iterator[Delta]:
        self.requests.append(request)
        for piece in self.pieces:
            yield Delta(piece)
        yield Delta("", "stop")

    def close(self) -> None:
        pass


def cited(answer: Answer) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]


# --- extractive: the default with no model ---------------------------------------------------


def test_extractive_answer_quotes_the_fee_and_cites_its_source(knowledge: KnowledgeBase) -> None:
    pieces, answer = run(knowledge, ExtractiveModel(), BIRTH_FEE)
    assert "".join(pieces).strip() == answer.answer
    assert "dirhams" in answer.answer
    assert answer.notice and answer.model == "extractive"
    assert answer.question_language == "ary_Latn" and answer.script == "Latn"
    numbers = cited(answer)
    assert numbers and all(1 <= n <= len(answer.sources) for n in numbers)
    fee_source = answer.sources[numbers[0] - 1]
    assert fee_source.document.endswith("extrait-acte-de-naissance.md") and fee_source.cited
    # Every quoted sentence is really in the source it cites.
    for line in answer.answer.splitlines():
        sentence, n = re.fullmatch(r"(.*) \[(\d+)\]", line).groups()  # type: ignore[union-attr]
        assert sentence in answer.sources[int(n) - 1].text


def test_extractive_answers_tifinagh_in_tifinagh(knowledge: KnowledgeBase) -> None:
    _, answer = run(knowledge, ExtractiveModel(), "ⵎⴰⵏⵉⵎⴽ ⴰⴷ ⵙⵎⴰⵢⵏⵓⵖ ⵜⴰⴽⴰⵔⴹⴰ ⵜⴰⵏⴰⵎⵓⵔⵜ")
    assert answer.language == "zgh_Tfng" and answer.script == "Tfng"
    assert TIFINAGH.search(answer.answer) and not re.search(r"[a-z]{3}", answer.answer)
    assert answer.notice is not None and TIFINAGH.search(answer.notice)
    assert any(s.cited and s.document.endswith("tamazight-takarda.txt") for s in answer.sources)


def test_extractive_says_when_the_documents_have_no_answer(knowledge: KnowledgeBase) -> None:
    _, answer = run(knowledge, ExtractiveModel(), "quantum chromodynamics of gluons?")
    assert answer.answer == "The documents do not contain an answer to this question."
    assert not any(source.cited for source in answer.sources)


# --- generative: prompt, citations, answer script --------------------------------------------


def test_prompt_numbers_the_sources_and_names_the_answer_language(
    knowledge: KnowledgeBase,
) -> None:
    model = ScriptedModel(["Khassek ", "tmchi ", "l", "lmo9ata3a [1]."])
    history = (Message("user", "salam"), Message("assistant", "salam, kifach n3awnek?"))
    run(knowledge, model, "kifach njded lbita9a lwatania?", history)
    (request,) = model.requests
    system, *earlier, user = request.messages
    assert system.role == "system" and "Darija" in system.content
    assert "Arabic script" in system.content
    for passage in request.passages:
        assert f"[{passage.n}] {passage.document}" in system.content
    assert [m.content for m in earlier] == ["salam", "salam, kifach n3awnek?"]
    # An Arabizi question reaches the model with its Arabic-script transliteration.
    assert user.content.startswith("kifach njded lbita9a lwatania?")
    assert ARABIC_LETTER.search(user.content)


def test_tamazight_reaches_the_model_in_latin_and_comes_back_in_tifinagh(
    knowledge: KnowledgeBase,
) -> None:
    model = ScriptedModel(["Ssmaynu ", "takarḍa ", "nnk [2] ", "ɣer lɛmalat [1][7]."])
    _, answer = run(knowledge, model, "ⵎⴰⵏⵉⵎⴽ ⴰⴷ ⵙⵎⴰⵢⵏⵓⵖ ⵜⴰⴽⴰⵔⴹⴰ ⵜⴰⵏⴰⵎⵓⵔⵜ?")
    (request,) = model.requests
    assert not any(TIFINAGH.search(message.content) for message in request.messages)
    assert "Tamazight" in request.messages[0].content
    assert TIFINAGH.search(answer.answer) and not re.search(r"[a-z]", answer.answer)
    assert cited(answer) == [2, 1] and answer.dropped_citations == [7]
    assert [s.n for s in answer.sources if s.cited] == [1, 2]


@pytest.mark.parametrize(
    ("choice", "arabic_out"), [(ArabiziAnswer.LATIN, False), (ArabiziAnswer.ARABIC, True)]
)
def test_arabizi_question_gets_arabizi_or_arabic_script(
    knowledge: KnowledgeBase, choice: ArabiziAnswer, arabic_out: bool
) -> None:
    model = ScriptedModel(["خاصك ", "تمشي ", "للمقاطعة ", "باش تجدد البطاقة [1]."])
    _, answer = run(knowledge, model, "kifach njded lbita9a?", options=AskOptions(arabizi=choice))
    assert bool(ARABIC_LETTER.search(answer.answer)) is arabic_out
    assert answer.language == ("ary_Arab" if arabic_out else "ary_Latn")
    assert answer.answer.endswith("[1].")


def test_openai_backend_end_to_end(knowledge: KnowledgeBase) -> None:
    with openai_server(Script(reply="Les frais sont de 10 dirhams [1] [source 3]. [12]")) as (
        url,
        script,
    ):
        model = OpenAIChatModel("remote", [url], model_id="tiny")
        pieces, answer = run(knowledge, model, "Combien coûte l'extrait d'acte de naissance ?")
    assert answer.answer == "Les frais sont de 10 dirhams [1] [3]."
    assert answer.dropped_citations == [12]
    assert "".join(pieces).strip() == answer.answer
    assert answer.usage is not None and answer.usage.prompt_tokens == 11
    assert script.requests[0]["messages"][0]["role"] == "system"


@given(
    st.lists(st.integers(min_value=1, max_value=60), max_size=12),
    st.sampled_from(
        [
            "Ssmaynu takarḍa nnk [2] ɣer lɛmalat [1][7]. Ad tawid 2 tewlafin [1, 2].",
            "Les frais sont de 10 dirhams [1] [source 3]. Délai: 48 h [12]\nFin [2-3].",
        ]
    ),
    st.sampled_from([Label.ZGH_TFNG, Label.FRA_LATN]),
)
def test_streamed_answer_is_the_whole_answer_rewritten(
    cuts: list[int], reply: str, label: Label
) -> None:
    """However the model splits its answer, the streamed pieces join to the same text as
    rewriting the whole answer at once."""
    policy = script_policy(label)
    points = sorted({min(cut, len(reply)) for cut in cuts})
    deltas = [reply[a:b] for a, b in zip([0, *points], [*points, len(reply)], strict=True)]
    streamed = AnswerRewriter(Citations(3), policy)
    out = "".join(streamed.feed(delta) for delta in deltas) + streamed.finish()
    whole = AnswerRewriter(Citations(3), policy)
    assert out == whole.feed(reply) + whole.finish()
    assert streamed.citations.dropped == whole.citations.dropped
    if not policy.converts:
        # Without transliteration, it is the answer's text with its citations checked at once.
        assert out == Citations(3).rewrite(reply).strip()


# --- citations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "dropped"),
    [
        ("a [1, 2] b", "a [1][2] b", []),
        ("a [Source 2] b [9]", "a [2] b", [9]),
        ("a [1-3]", "a [1][2][3]", []),
        ("ب [٢]", "ب [2]", []),
        ("see [3] and [4]", "see [3] and", [4]),
        ("75 DH [9].", "75 DH.", [9]),
        ("[1][1]", "[1][1]", []),
        ("a list [x] stays", "a list [x] stays", []),
    ],
)
def test_citation_markers(text: str, expected: str, dropped: list[int]) -> None:
    citations = Citations(3)
    assert citations.rewrite(text) == expected
    assert citations.dropped == dropped


@given(st.text(alphabet="[]0123456789, -abc", max_size=40))
def test_citation_rewrite_is_idempotent(text: str) -> None:
    once = Citations(5).rewrite(text)
    assert Citations(5).rewrite(once) == once


# --- conversation ------------------------------------------------------------------------------


def test_followups_are_searched_with_the_previous_question() -> None:
    history = [Message("user", "kifach njded lbita9a lwatania?"), Message("assistant", "...")]
    assert is_followup("w chhal?", Label.ARY_LATN)
    assert is_followup("et pour un enfant ?", Label.FRA_LATN)
    assert not is_followup(
        "Combien coûte le passeport biométrique pour un adulte ?", Label.FRA_LATN
    )
    assert search_query("w chhal?", Label.ARY_LATN, history) == (
        "kifach njded lbita9a lwatania? w chhal?"
    )
    standalone = "Quels documents pour l'autorisation de construire ?"
    assert search_query(standalone, Label.FRA_LATN, history) == standalone


def test_fit_passages_keeps_the_best_that_fit() -> None:
    passages = [Passage(n, "x" * 3000, "fra_Latn", "d.md") for n in range(1, 6)]
    assert len(fit_passages(passages, None, 512, len)) == 5
    fixed = [Message("user", "y" * 200)]
    each = len(passages[0].text) + 20
    kept = fit_passages(passages, 512 + 208 + 3 * each, 512, len, fixed)
    assert [p.n for p in kept] == [1, 2, 3]
    assert fit_passages(passages, 3000, 512, len) == ()


def test_question_limits(knowledge: KnowledgeBase) -> None:
    for question in ("", "   ", "x" * 100_000):
        with pytest.raises(AssistantError):
            run(knowledge, ExtractiveModel(), question)


# --- the command line --------------------------------------------------------------------------


def test_cli_answers_with_sources(data_dir: Path) -> None:
    result = siyada(data_dir, "ask", BIRTH_FEE, "-c", "examples")
    assert result.returncode == 0, result.stderr
    assert "dirhams" in result.stdout and "Sources (* cited):" in result.stdout
    assert re.search(r"\*\[\d\] \S*examples/fr/extrait-acte-de-naissance\.md", result.stdout)
    assert "ma kayn" in result.stderr  # the no-model notice, in Arabizi


def test_cli_json_from_stdin(data_dir: Path) -> None:
    questions = f"{BIRTH_FEE}\n\nⵎⴰⵏⵉⵎⴽ ⴰⴷ ⵙⵎⴰⵢⵏⵓⵖ ⵜⴰⴽⴰⵔⴹⴰ ⵜⴰⵏⴰⵎⵓⵔⵜ\n"
    result = siyada(data_dir, "ask", "-c", "examples", "--json", stdin=questions)
    assert result.returncode == 1  # the empty line is reported, the others answered
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["question"] for row in rows] == [
        BIRTH_FEE,
        "",
        "ⵎⴰⵏⵉⵎⴽ ⴰⴷ ⵙⵎⴰⵢⵏⵓⵖ ⵜⴰⴽⴰⵔⴹⴰ ⵜⴰⵏⴰⵎⵓⵔⵜ",
    ]
    assert rows[1]["error"] == "the question is empty"
    for row in (rows[0], rows[2]):
        assert set(row) >= {"answer", "language", "script", "model", "sources"}
        assert set(row["sources"][0]) >= {"n", "document", "page", "chunk_id", "text"}
    assert rows[2]["script"] == "Tfng"


def test_cli_conversation_continues(data_dir: Path) -> None:
    first = siyada(data_dir, "ask", "kifach njded lbita9a lwatania?", "-c", "examples",
                   "--conversation", "c1", "--json")  # fmt: skip
    assert first.returncode == 0, first.stderr
    second = siyada(data_dir, "ask", "w chhal?", "-c", "examples", "--conversation", "c1", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["search_query"] == "kifach njded lbita9a lwatania? w chhal?"
    alone = siyada(data_dir, "ask", "w chhal?", "-c", "examples", "--json")
    assert json.loads(alone.stdout)["search_query"] == "w chhal?"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x" * 100_000, "-c", "examples"], "the limit is 4000"),
        (["", "-c", "examples"], "the question is empty"),
        (["salam", "-c", "nope"], "no collection named 'nope'"),
        (["salam", "-c", "examples", "-m", "nope"], "no model named 'nope'"),
    ],
)
def test_cli_bad_input(data_dir: Path, args: list[str], message: str) -> None:
    result = siyada(data_dir, "ask", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def _add_remote(data_dir: Path, name: str, url: str) -> None:
    added = siyada(data_dir, "models", "add", name, "--backend", "openai", "--url", url,
                   "--model-id", "tiny")  # fmt: skip
    assert added.returncode == 0, added.stderr


def test_cli_backend_down_slow_or_broken(data_dir: Path) -> None:
    _add_remote(data_dir, "down", unused_url())
    result = siyada(data_dir, "ask", "salam", "-c", "examples", "-m", "down")
    assert result.returncode == 1 and "no endpoint answered" in result.stderr
    assert "Traceback" not in result.stderr

    with openai_server(Script(first_token_delay=20)) as (url, _):
        _add_remote(data_dir, "slow", url)
        started = time.monotonic()
        result = siyada(data_dir, "ask", "salam", "-c", "examples", "-m", "slow", "--timeout", "1")
        elapsed = time.monotonic() - started
    assert result.returncode == 1 and "did not answer within 1 s" in result.stderr
    assert elapsed < 8  # the timeout, plus starting Python and loading the language model

    with openai_server(Script(malformed=True)) as (url, _):
        _add_remote(data_dir, "broken", url)
        result = siyada(data_dir, "ask", "salam", "-c", "examples", "-m", "broken")
    assert result.returncode == 1 and "malformed" in result.stderr
    assert "Traceback" not in result.stderr


def test_long_citation_markers_are_checked_while_streaming() -> None:
    reply = "Voir [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14] fin."
    rewriter = AnswerRewriter(Citations(5), script_policy(Label.FRA_LATN))
    out = "".join(rewriter.feed(word + " ") for word in reply.split(" ")) + rewriter.finish()
    assert out == "Voir [1][2][3][4][5] fin."
    assert rewriter.citations.cited == [1, 2, 3, 4, 5]


def test_streamed_answer_has_no_whitespace_at_its_ends() -> None:
    rewriter = AnswerRewriter(Citations(2), script_policy(Label.FRA_LATN))
    pieces = [rewriter.feed(piece) for piece in ["  \n", " Salam", " [1] ", "", "\n\n"]]
    assert "".join(pieces) + rewriter.finish() == "Salam [1]"


def test_brackets_in_quoted_documents_are_not_citations(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "frais.md").write_text(
        "# Frais\n\nLes frais de dossier sont de 75 dirhams [3], payables au guichet.\n",
        encoding="utf-8",
    )
    base = KnowledgeBase(Settings(data_dir=tmp_path / "home", embedder="none"))
    base.ingest(DEFAULT_TENANT, "frais", [tmp_path / "docs"])
    answer = None
    for event in ask(base, ExtractiveModel(), DEFAULT_TENANT, "combien coûtent les frais ?",
                     collections=["frais"]):  # fmt: skip
        if isinstance(event, Answer):
            answer = event
    base.close()
    assert answer is not None
    assert answer.answer == "Les frais de dossier sont de 75 dirhams [3], payables au guichet. [1]"
    assert [s.n for s in answer.sources if s.cited] == [1] and answer.dropped_citations == []


def test_cli_conversations_can_be_listed_shown_and_deleted(data_dir: Path) -> None:
    asked = siyada(data_dir, "ask", BIRTH_FEE, "-c", "examples", "--conversation", "listed")
    assert asked.returncode == 0, asked.stderr
    listed = [
        json.loads(line)
        for line in siyada(data_dir, "conversations", "--json").stdout.split("\n")
        if line
    ]
    assert {"name": "listed", "questions": 1}.items() <= next(
        row for row in listed if row["name"] == "listed"
    ).items()
    shown = siyada(data_dir, "conversations", "show", "listed").stdout
    assert shown.startswith(f"user: {BIRTH_FEE}\nassistant: ")
    assert siyada(data_dir, "conversations", "delete", "listed").returncode == 0
    missing = siyada(data_dir, "conversations", "show", "listed")
    assert missing.returncode == 2 and "no conversation named 'listed'" in missing.stderr


def test_cli_question_argument_is_one_question(data_dir: Path) -> None:
    result = siyada(data_dir, "ask", "kifach njded\nlbita9a lwatania?", "-c", "examples", "--json")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1
    assert json.loads(result.stdout)["question"] == "kifach njded\nlbita9a lwatania?"


def test_cli_timeout_must_be_finite(data_dir: Path) -> None:
    result = siyada(data_dir, "ask", "salam", "-c", "examples", "--timeout", "inf")
    assert result.returncode == 2 and "Traceback" not in result.stderr
