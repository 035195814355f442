"""The chat app in a real headless Chromium (Debian's, driven by Playwright): streaming answers
with sources, right-to-left layout, the bundled Tifinagh font, script toggles, uploads.

Screenshots go to ``test-artifacts/`` (or ``$SIYADA_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from siyada.config import Settings
from siyada.knowledge import KnowledgeBase
from siyada.knowledge.store import DEFAULT_TENANT
from siyada.server import create_app
from tests.live_server import serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
EXAMPLES = Path(__file__).parent.parent / "examples"
ARTIFACTS = Path(
    os.environ.get("SIYADA_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")
)
ANSWER_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("web")
    knowledge = KnowledgeBase(Settings(data_dir=home, embedder="none"))
    knowledge.ingest(
        DEFAULT_TENANT, "examples", [EXAMPLES / "fr", EXAMPLES / "ar", EXAMPLES / "zgh"]
    )
    knowledge.close()
    with serving(create_app(Settings(data_dir=home, embedder="none"))) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="fr-FR")
    opened = context.new_page()
    opened.goto(base_url)
    expect(opened.locator("#collection")).to_contain_text("examples")
    yield opened
    context.close()


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def ask(page: Page, question: str) -> None:
    page.fill("#question", question)
    page.click("#send")
    expect(page.locator(".message.assistant").last).to_have_attribute(
        "data-state", "done", timeout=ANSWER_TIMEOUT_MS
    )


def test_arabizi_question_gets_a_streamed_answer_with_sources(page: Page) -> None:
    page.select_option("#collection", "examples")
    ask(page, "chhal kaytkhlles l'extrait d'acte de naissance?")
    answer = page.locator(".message.assistant .text").last
    expect(answer).to_contain_text("dirhams")
    expect(page.locator("#sources .source").first).to_be_visible()
    expect(page.locator(".message.user .detected-language").last).to_contain_text(
        re.compile("Arabizi|ary_Latn")
    )
    # Clicking a source opens its passage.
    page.locator("#sources .source").first.click()
    expect(page.get_by_text(re.compile("dirhams|extrait")).first).to_be_visible()
    shoot(page, "arabizi-answer")


def test_arabic_message_lays_out_right_to_left(page: Page) -> None:
    ask(page, "كيفاش نجدد البطاقة الوطنية؟")
    question = page.locator(".message.user .text").last
    answer = page.locator(".message.assistant .text").last
    assert question.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert answer.evaluate("e => getComputedStyle(e).direction") == "rtl"
    # The first word of an Arabic line stands to the right of its last word.
    first_x, last_x = question.evaluate(
        """e => {
            const text = e.firstChild, range = document.createRange();
            range.setStart(text, 0); range.setEnd(text, 1);
            const first = range.getBoundingClientRect().x;
            range.setStart(text, text.length - 2); range.setEnd(text, text.length - 1);
            return [first, range.getBoundingClientRect().x];
        }"""
    )
    assert first_x > last_x
    # A French line in the same page stays left to right.
    ask(page, "Combien coûte l'extrait d'acte de naissance ?")
    french = page.locator(".message.user .text").last
    assert french.evaluate("e => getComputedStyle(e).direction") == "ltr"
    shoot(page, "arabic-rtl")


def test_tifinagh_renders_with_the_bundled_font(page: Page) -> None:
    ask(page, "ⵎⴰⵏⵉⵎⴽ ⴰⴷ ⵙⵎⴰⵢⵏⵓⵖ ⵜⴰⴽⴰⵔⴹⴰ ⵜⴰⵏⴰⵎⵓⵔⵜ")
    answer = page.locator(".message.assistant .text").last
    expect(answer).to_contain_text(re.compile("[\u2d30-\u2d7f]"))
    # The page's own @font-face for Tifinagh is what renders these letters: it loads, and
    # Chromium reports a face covering them (with no such font, they would be tofu boxes).
    loaded = page.evaluate(
        """async () => {
            await document.fonts.ready;
            const faces = await document.fonts.load("16px 'Noto Sans Tifinagh'", "ⵜⴰⵎⴰⵣⵉⵖⵜ");
            return faces.map(face => face.family + ":" + face.status);
        }"""
    )
    assert loaded and all(entry.endswith(":loaded") for entry in loaded)
    assert page.evaluate("document.fonts.check(\"16px 'Noto Sans Tifinagh'\", 'ⵜⴰⵎⴰⵣⵉⵖⵜ')")
    # Drawn widths differ from a font with no Tifinagh, which would draw boxes.
    widths = page.evaluate(
        """() => {
            const canvas = document.createElement('canvas').getContext('2d');
            canvas.font = "32px 'Noto Sans Tifinagh'";
            const bundled = canvas.measureText('ⵜⴰⵎⴰⵣⵉⵖⵜ').width;
            canvas.font = "32px monospace";
            return [bundled, canvas.measureText('ⵜⴰⵎⴰⵣⵉⵖⵜ').width];
        }"""
    )
    assert widths[0] > 0 and widths[0] != widths[1]
    # The answer can be read in Latin letters too.
    page.locator(".message.assistant").last.locator(".script-toggle").click()
    expect(answer).not_to_contain_text(re.compile("[\u2d30-\u2d7f]"))
    shoot(page, "tifinagh")


def test_arabic_interface_mirrors_the_layout(page: Page) -> None:
    page.select_option("#ui-language", "ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    send = page.locator("#send").bounding_box()
    question = page.locator("#question").bounding_box()
    assert send is not None and question is not None
    assert send["x"] < question["x"]  # the send button moves to the left of the input
    shoot(page, "arabic-interface")
    page.select_option("#ui-language", "fr")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")


def test_upload_a_document_then_ask_about_it(page: Page, tmp_path: Path) -> None:
    note = tmp_path / "chasse.md"
    note.write_text(
        "# Permis de chasse\n\nLe permis de chasse coûte 800 dirhams.\n", encoding="utf-8"
    )
    page.set_input_files("#upload", str(note))
    expect(page.locator("#upload-progress")).to_be_visible()
    expect(page.get_by_text(re.compile("chasse.md"))).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    ask(page, "Combien coûte le permis de chasse ?")
    expect(page.locator(".message.assistant .text").last).to_contain_text("800 dirhams")
    shoot(page, "upload")
