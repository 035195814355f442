"""The chat app in a real headless Chromium (Debian's, driven by Playwright): signing in with an
API key, streaming answers with sources, right-to-left layout, the bundled Tifinagh font,
script toggles, uploads, refusals (403, 429).

Screenshots go to ``test-artifacts/`` (or ``$SIYADA_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Response,
    Route,
    expect,
    sync_playwright,
)

from siyada.config import Settings
from siyada.governance.access import Role, open_directory
from siyada.knowledge import KnowledgeBase
from siyada.knowledge.store import DEFAULT_TENANT
from siyada.server import create_app
from tests.live_server import admin_headers, serving

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
KEY_STORAGE = "siyada.api-key"
# Well formed, but no such key.
WRONG_KEY = "siyada_000000000000_" + "A" * 43


@dataclass(frozen=True)
class Site:
    url: str
    home: Path
    admin_key: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("web")
    knowledge = KnowledgeBase(Settings(data_dir=home, embedder="none"))
    knowledge.ingest(
        DEFAULT_TENANT, "examples", [EXAMPLES / "fr", EXAMPLES / "ar", EXAMPLES / "zgh"]
    )
    knowledge.close()
    admin_key = admin_headers(home)["Authorization"].removeprefix("Bearer ")
    with serving(create_app(Settings(data_dir=home, embedder="none"))) as (url, _):
        yield Site(url, home, admin_key)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport={"width": 1200, "height": 900}, locale="fr-FR")
    yield opened
    opened.close()


@pytest.fixture
def page(context: BrowserContext, site: Site) -> Page:
    """Signed in as the local admin, through the link ``siyada serve`` prints."""
    opened = context.new_page()
    opened.goto(f"{site.url}/#key={site.admin_key}")
    expect(opened.locator("#collection")).to_contain_text("examples")
    return opened


def stored_key(page: Page, where: str) -> str | None:
    found: str | None = page.evaluate(f"() => {where}Storage.getItem({json.dumps(KEY_STORAGE)})")
    return found


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


# ---- Signing in -------------------------------------------------------------------------


def test_the_key_in_the_link_signs_in_and_leaves_the_address_bar(page: Page, site: Site) -> None:
    assert "#" not in page.url and "key=" not in page.url
    assert page.evaluate("() => location.hash") == ""
    expect(page.locator("#signin-dialog")).to_be_hidden()
    expect(page.locator("#sign-out")).to_be_visible()
    # Kept for this tab only by default.
    assert stored_key(page, "session") == site.admin_key
    assert stored_key(page, "local") is None
    # A reload in the same tab stays signed in (the key is no longer in the address).
    page.reload()
    expect(page.locator("#collection")).to_contain_text("examples")
    expect(page.locator("#signin-dialog")).to_be_hidden()


def test_without_a_key_the_sign_in_dialog_asks_for_one(context: BrowserContext, site: Site) -> None:
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda sent: requests.append(sent.url))
    page.goto(site.url)
    dialog = page.locator("#signin-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#signin-key")).to_be_focused()
    expect(page.locator("#signin-key")).to_have_attribute("type", "password")
    expect(dialog).to_contain_text("admin.key")
    expect(dialog).to_contain_text("siyada keys create")
    # Nothing was asked of the API without a key.
    assert not [url for url in requests if "/v1/" in url]
    shoot(page, "sign-in")

    # A wrong key: the dialog stays and says why, with the server's words.
    page.fill("#signin-key", WRONG_KEY)
    page.click("#signin-submit")
    error = page.locator("#signin-dialog .form-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Cette clé n’est pas acceptée")
    expect(dialog).to_be_visible()
    expect(page.locator("#signin-key")).to_be_focused()
    assert stored_key(page, "session") is None and stored_key(page, "local") is None
    expect(page.locator("#error")).to_be_hidden()  # the dialog says it, not the banner

    # Right to left in the Arabic interface, the key itself still left to right.
    page.select_option("#signin-language", "ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(error).to_contain_text("هذا المفتاح غير مقبول")
    expect(page.locator("#signin-title")).to_have_text("الدخول إلى سيادة")
    assert page.locator("#signin-key").evaluate("e => getComputedStyle(e).direction") == "ltr"
    title = page.locator("#signin-title").bounding_box()
    language = page.locator("#signin-language").bounding_box()
    assert title is not None and language is not None
    assert language["x"] < title["x"]  # mirrored: the language menu moves to the left
    shoot(page, "sign-in-arabic")
    page.select_option("#signin-language", "fr")

    # The right key: the collections load and the dialog closes.
    page.fill("#signin-key", f"  {site.admin_key} ")
    page.click("#signin-submit")
    expect(dialog).to_be_hidden()  # closes once the key is kept
    expect(page.locator("#collection")).to_contain_text("examples")
    expect(page.locator("#model option").first).not_to_have_text("Aucun modèle")
    expect(page.locator("#sign-out")).to_be_visible()
    assert stored_key(page, "session") == site.admin_key


def test_remember_on_this_device_keeps_the_key_for_other_tabs(
    context: BrowserContext, site: Site
) -> None:
    page = context.new_page()
    page.goto(site.url)
    page.fill("#signin-key", site.admin_key)
    page.check("#signin-remember")
    page.click("#signin-submit")
    expect(page.locator("#signin-dialog")).to_be_hidden()  # closes once the key is kept
    expect(page.locator("#collection")).to_contain_text("examples")
    assert stored_key(page, "local") == site.admin_key
    assert stored_key(page, "session") is None
    other = context.new_page()  # a new tab: its own sessionStorage, the same localStorage
    other.goto(site.url)
    expect(other.locator("#collection")).to_contain_text("examples")
    expect(other.locator("#signin-dialog")).to_be_hidden()
    # Signing out in one tab forgets the key on the device.
    other.click("#sign-out")
    assert stored_key(other, "local") is None


def test_sign_out_forgets_the_key(page: Page) -> None:
    page.click("#sign-out")
    expect(page.locator("#signin-dialog")).to_be_visible()
    expect(page.locator("#signin-key")).to_be_focused()
    expect(page.locator("#collection")).not_to_contain_text("examples")
    assert stored_key(page, "session") is None and stored_key(page, "local") is None
    page.reload()
    expect(page.locator("#signin-dialog")).to_be_visible()
    expect(page.locator("#collection")).not_to_contain_text("examples")
    # Dismissed, the dialog leaves a way back in the header.
    page.keyboard.press("Escape")
    expect(page.locator("#signin-dialog")).to_be_hidden()
    expect(page.locator("#sign-out")).to_be_hidden()
    page.click("#sign-in")
    expect(page.locator("#signin-dialog")).to_be_visible()


def create_key(site: Site, role: Role, name: str) -> str:
    directory = open_directory(Settings(data_dir=site.home))
    try:
        _, key = directory.create_key(DEFAULT_TENANT, role, name)
    finally:
        directory.close()
    return key


def test_a_new_link_in_an_open_tab_switches_keys(page: Page, site: Site) -> None:
    key = create_key(site, Role.READER, "switch")
    # Only the fragment changes: no reload, the app reads it on hashchange.
    page.goto(f"{site.url}/#key={key}")
    page.wait_for_function(
        "([name, key]) => sessionStorage.getItem(name) === key", arg=[KEY_STORAGE, key]
    )
    assert "#" not in page.url and "key=" not in page.url
    expect(page.locator("#collection")).to_contain_text("examples")


def test_a_revoked_key_asks_to_sign_in_again(context: BrowserContext, site: Site) -> None:
    key = create_key(site, Role.READER, "revoked-in-test")
    page = context.new_page()

    def signed_in(path: str) -> Callable[[Response], bool]:
        def matches(response: Response) -> bool:
            sent = response.request.headers.get("authorization")
            return response.url.endswith(path) and sent == f"Bearer {key}"

        return matches

    with (
        page.expect_response(signed_in("/v1/models")),
        page.expect_response(signed_in("/v1/collections")),
    ):
        page.goto(f"{site.url}/#key={key}")
    expect(page.locator("#sign-out")).to_be_visible()
    directory = open_directory(Settings(data_dir=site.home))
    try:
        directory.revoke_key(key.split("_")[1])
    finally:
        directory.close()
    page.fill("#question", "Combien coûte l'extrait d'acte de naissance ?")
    page.click("#send")
    expect(page.locator("#signin-dialog")).to_be_visible()
    error = page.locator("#signin-dialog .form-error")
    expect(error).to_contain_text("Cette clé n’est pas acceptée")
    expect(error).to_contain_text("revoked")
    assert stored_key(page, "session") is None


def test_a_reader_key_cannot_upload_and_says_why(
    context: BrowserContext, site: Site, tmp_path: Path
) -> None:
    key = create_key(site, Role.READER, "t")
    page = context.new_page()
    page.goto(f"{site.url}/#key={key}")
    expect(page.locator("#collection")).to_contain_text("examples")
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nRien.\n", encoding="utf-8")
    page.set_input_files("#upload", str(note))
    banner = page.locator("#error")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("this needs editor")
    expect(banner.locator(".error-code")).to_contain_text("403")
    expect(banner.locator(".error-title")).to_have_text("Accès refusé")
    expect(page.locator("#upload-status")).to_contain_text("this needs editor")
    expect(page.locator("#signin-dialog")).to_be_hidden()  # a 403 is not a sign-in problem
    shoot(page, "reader-upload-refused")


def test_over_quota_shows_when_to_retry(page: Page) -> None:
    seen: list[str | None] = []

    def refuse(route: Route) -> None:
        seen.append(route.request.headers.get("authorization"))
        route.fulfill(
            status=429,
            headers={"Retry-After": "42"},
            content_type="application/json",
            body=json.dumps(
                {
                    "error": {
                        "message": "request quota exceeded; retry in 42 s",
                        "type": "rate_limit_error",
                        "code": "quota_exceeded",
                    }
                }
            ),
        )

    page.route("**/v1/chat/completions", refuse)
    page.fill("#question", "Bonjour")
    page.click("#send")
    banner = page.locator("#error")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("request quota exceeded")
    expect(banner).to_contain_text("réessayez dans 42 s")
    expect(banner.locator(".error-title")).to_have_text("Trop de requêtes")
    assert seen and seen[0] is not None and seen[0].startswith("Bearer siyada_")
