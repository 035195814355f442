// Siyada chat app: plain ES2020 module, no framework, no build step, nothing fetched from
// outside the server that serves this page.
//
// Sections: API helpers (JSON, errors, server-sent events) · interface language · chat
// (streaming answers, citations, script toggles) · sources panel · collections and models ·
// upload with job polling · sign-in (API key) · start-up.

import {
  DEFAULT_UI_LANGUAGE,
  UI_LANGUAGES,
  htmlLang,
  labelName,
  languageAndScript,
  translate,
} from "./i18n.js";

// Relative URLs: they resolve against the page, so the app also works behind a path prefix.
const HISTORY_MESSAGES = 20;
const API = {
  chat: "v1/chat/completions",
  models: "v1/models",
  collections: "v1/collections",
  documents: (name) => `v1/collections/${encodeURIComponent(name)}/documents`,
  job: (id) => `v1/jobs/${encodeURIComponent(id)}`,
  transliterate: "v1/lang/transliterate",
};

const STORAGE = {
  ui: "siyada.ui-language",
  collection: "siyada.collection",
  // The API key: in sessionStorage (gone with the tab) unless "remember on this device"
  // puts it in localStorage.
  apiKey: "siyada.api-key",
};
const POLL_MS = 500;
const POLL_FAILURES_TOLERATED = 5;
const SNIPPET_CHARS = 280;

// Transliteration pairs the server supports, each way.
const SCRIPT_PAIRS = {
  ary_Latn: "ary_Arab",
  ary_Arab: "ary_Latn",
  zgh_Tfng: "ber_Latn",
  ber_Latn: "zgh_Tfng",
};

const $ = (selector, root = document) => root.querySelector(selector);

const dom = {
  html: document.documentElement,
  messages: $("#messages"),
  emptyState: $("#empty-state"),
  composer: $("#composer"),
  question: $("#question"),
  send: $("#send"),
  stop: $("#stop"),
  newChat: $("#new-chat"),
  collection: $("#collection"),
  newCollection: $("#new-collection"),
  model: $("#model"),
  uiLanguage: $("#ui-language"),
  error: $("#error"),
  errorMessage: $("#error .error-message"),
  errorCode: $("#error .error-code"),
  errorClose: $("#error .error-close"),
  collectionInfo: $("#collection-info"),
  dropzone: $("#dropzone"),
  upload: $("#upload"),
  uploadProgress: $("#upload-progress"),
  uploadStatus: $("#upload-status"),
  uploadResults: $("#upload-results"),
  sources: $("#sources"),
  sourcesEmpty: $("#sources .sources-empty"),
  sourcesDropped: $("#sources .dropped"),
  sourceList: $("#sources .source-list"),
  passage: $("#passage"),
  passageTitle: $("#passage-title"),
  passageMeta: $("#passage .passage-meta"),
  passageText: $("#passage .passage-text"),
  collectionDialog: $("#collection-dialog"),
  collectionForm: $("#collection-form"),
  collectionName: $("#new-collection-name"),
  collectionFormError: $("#collection-form .form-error"),
  collectionCancel: $("#collection-cancel"),
  errorTitle: $("#error .error-title"),
  signIn: $("#sign-in"),
  signOut: $("#sign-out"),
  signinDialog: $("#signin-dialog"),
  signinForm: $("#signin-form"),
  signinLanguage: $("#signin-language"),
  signinKey: $("#signin-key"),
  signinRemember: $("#signin-remember"),
  signinSubmit: $("#signin-submit"),
  signinError: $("#signin-form .form-error"),
  signinErrorMessage: $("#signin-form .signin-error-message"),
  signinErrorDetail: $("#signin-form .signin-error-detail"),
};

const state = {
  ui: DEFAULT_UI_LANGUAGE,
  /** Finished exchanges sent with each question: [{role, content}]. */
  history: [],
  /** The answer being streamed: {controller, answer}; null when idle. */
  streaming: null,
  /** The answer whose sources the panel lists. */
  sourcesFor: null,
  collections: [],
  uploading: false,
  /** The API key sent as "Authorization: Bearer"; null when signed out. */
  apiKey: null,
};

/** Answer records by their message element, for clicks on citations and buttons. */
const answers = new WeakMap();

const t = (key, vars) => translate(state.ui, key, vars);

// Web storage: "local" (kept on this device) or "session" (gone when the tab closes). Even
// reading window.localStorage throws where storage is disabled (private mode, file://,
// blocked cookies): then nothing is remembered and the app still works.
const STORES = { local: () => window.localStorage, session: () => window.sessionStorage };

function storageGet(key, where = "local") {
  try {
    return STORES[where]().getItem(key);
  } catch {
    return null;
  }
}

function storageSet(key, value, where = "local") {
  try {
    STORES[where]().setItem(key, value);
  } catch {
    /* not remembered, nothing else lost */
  }
}

function storageRemove(key, where = "local") {
  try {
    STORES[where]().removeItem(key);
  } catch {
    /* nothing stored there */
  }
}

/** A new element: h("span", {class: "x", dataset: {n: 1}}, "text", child). */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** Text that follows the interface language: translated now and again on every switch. */
function setI18n(node, key, vars) {
  node.dataset.i18n = key;
  if (vars) node.dataset.i18nVars = JSON.stringify(vars);
  else delete node.dataset.i18nVars;
  node.textContent = t(key, vars);
  return node;
}

// ---------------------------------------------------------------------------------------
// API helpers

class ApiError extends Error {
  constructor({ message, type = null, code = null, status = null, retryAfter = null } = {}) {
    super(message || "error");
    this.name = "ApiError";
    this.type = type;
    this.code = code;
    this.status = status;
    /** Seconds to wait before trying again (a 429's Retry-After), or null. */
    this.retryAfter = retryAfter;
  }
}

/** A Retry-After header (seconds, or an HTTP date) in whole seconds from now; null if none. */
function retryAfterSeconds(value) {
  if (value === null || value === undefined || String(value).trim() === "") return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text);
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** The Authorization header for the current key, to add to a request's headers. */
function authorization() {
  return state.apiKey ? { Authorization: `Bearer ${state.apiKey}` } : {};
}

/** The ApiError for a non-2xx response: its JSON {"error": {...}} when it has one. */
async function errorFromResponse(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    /* not JSON: a proxy's HTML page, an empty body */
  }
  const error = body && typeof body === "object" ? body.error ?? body : null;
  const message =
    (error && typeof error.message === "string" && error.message) ||
    (typeof error?.detail === "string" && error.detail) ||
    t("error_http", { status: response.status });
  return new ApiError({
    message,
    type: error?.type ?? null,
    code: error?.code ?? null,
    status: response.status,
    retryAfter: retryAfterSeconds(response.headers.get("Retry-After")),
  });
}

/**
 * fetch with the API key, network failures and non-2xx responses turned into ApiError.
 * A 401 (no key, or one the server no longer accepts) also opens the sign-in dialog.
 */
async function request(url, options = {}) {
  const sentKey = state.apiKey;
  let response;
  try {
    response = await fetch(url, {
      ...options,
      headers: { ...(options.headers ?? {}), ...authorization() },
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError({ message: t("error_network"), code: "network_error" });
  }
  if (!response.ok) {
    const error = await errorFromResponse(response);
    if (error.status === 401) unauthorized(error, sentKey);
    throw error;
  }
  return response;
}

async function getJSON(url) {
  const response = await request(url, { headers: { Accept: "application/json" } });
  return response.json();
}

async function postJSON(url, body) {
  const response = await request(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  return response.json();
}

/**
 * The data of each server-sent event in a response body, as strings.
 *
 * Follows the SSE format: events end at a blank line, "data:" lines of one event are joined
 * with "\n", lines starting with ":" are comments, CR, LF and CRLF all end a line (a CR at
 * the very end of what has arrived may be half of a CRLF, so it waits for the next read).
 */
async function* serverSentEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let data = [];
  let ended = false;
  try {
    while (!ended) {
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        buffer += decoder.decode();
      } else {
        buffer += decoder.decode(value, { stream: true });
      }
      for (;;) {
        const match = /\r\n|\r|\n/.exec(buffer);
        if (!match) break;
        if (match[0] === "\r" && match.index === buffer.length - 1 && !ended) break;
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        if (line === "") {
          if (data.length) yield data.join("\n");
          data = [];
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? "" : line.slice(colon + 1);
          if (value.startsWith(" ")) value = value.slice(1);
          if (field === "data") data.push(value);
        }
      }
    }
    // A last event without its blank line: delivered rather than lost.
    if (buffer.startsWith("data:")) data.push(buffer.slice(5).replace(/^ /, ""));
    if (data.length) yield data.join("\n");
  } finally {
    // Also runs when the consumer stops early (after [DONE], or on an error in a chunk).
    reader.cancel().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------
// Errors

/** The error banner. A 401 is not shown there: the sign-in dialog says it. */
function showError(error) {
  if (error instanceof ApiError && error.status === 401) return;
  let title = "error_title";
  if (error instanceof ApiError && error.status === 403) title = "error_forbidden";
  if (error instanceof ApiError && error.status === 429) title = "error_rate_limited";
  setI18n(dom.errorTitle, title);
  dom.errorMessage.textContent = errorText(error);
  const code = error instanceof ApiError ? [error.status, error.code].filter(Boolean) : [];
  dom.errorCode.textContent = code.join(" · ");
  dom.error.hidden = false;
}

/** An error's message; for a 429, with how long to wait (the server's Retry-After). */
function errorText(error) {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ApiError && error.status === 429 && error.retryAfter !== null) {
    return `${message} — ${t("retry_after", { seconds: error.retryAfter })}`;
  }
  return message;
}

function clearError() {
  dom.error.hidden = true;
  setI18n(dom.errorTitle, "error_title");
  dom.errorMessage.textContent = "";
  dom.errorCode.textContent = "";
}

// ---------------------------------------------------------------------------------------
// Interface language

function setUiLanguage(ui, { remember = true } = {}) {
  state.ui = UI_LANGUAGES[ui] ? ui : DEFAULT_UI_LANGUAGE;
  if (remember) storageSet(STORAGE.ui, state.ui);
  dom.uiLanguage.value = state.ui;
  dom.signinLanguage.value = state.ui;
  dom.html.lang = state.ui;
  dom.html.dir = UI_LANGUAGES[state.ui].dir;
  applyI18n();
}

/** Translates every marked element again (static page text and what the app added). */
function applyI18n() {
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) {
    const vars = node.dataset.i18nVars ? JSON.parse(node.dataset.i18nVars) : undefined;
    node.textContent = t(node.dataset.i18n, vars);
  }
  for (const [attribute, data] of [
    ["placeholder", "i18nPlaceholder"],
    ["title", "i18nTitle"],
    ["aria-label", "i18nAriaLabel"],
  ]) {
    for (const node of document.querySelectorAll(`[data-${toKebab(data)}]`)) {
      const vars = node.dataset.i18nVars ? JSON.parse(node.dataset.i18nVars) : undefined;
      node.setAttribute(attribute, t(node.dataset[data], vars));
    }
  }
  // Language names shown on messages.
  for (const node of document.querySelectorAll("[data-label]")) {
    node.textContent = labelName(state.ui, node.dataset.label);
  }
  for (const node of document.querySelectorAll("[data-language-script]")) {
    const [label, script] = node.dataset.languageScript.split("|");
    node.textContent = languageAndScript(state.ui, label, script);
  }
  // Interface chrome inside messages runs in the interface direction, not the message's.
  for (const node of document.querySelectorAll("[data-ui-dir]")) {
    node.dir = dom.html.dir;
  }
  updateCollectionInfo();
  renderSources();
}

function toKebab(name) {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

// ---------------------------------------------------------------------------------------
// Chat

function scrolledToBottom() {
  const box = dom.messages;
  return box.scrollHeight - box.scrollTop - box.clientHeight < 48;
}

function scrollToBottom() {
  dom.messages.scrollTop = dom.messages.scrollHeight;
}

/** Chrome (labels, buttons) in a bubble: its own dir, so the bubble's dir="auto" reads only
 * the message text (the HTML dir=auto algorithm skips descendants that have a dir). */
function chrome(tag, attrs = {}, ...children) {
  return h(tag, { ...attrs, dir: dom.html.dir, "data-ui-dir": true }, ...children);
}

function addUserMessage(text) {
  dom.emptyState.hidden = true;
  const textNode = h("div", { class: "text", text });
  const meta = chrome("div", { class: "meta" });
  const node = h(
    "article",
    { class: "message user", dir: "auto" },
    textNode,
    chrome("span", { class: "visually-hidden" }, setI18n(h("span"), "speaker_user")),
    meta,
  );
  dom.messages.append(node);
  scrollToBottom();
  return { node, meta };
}

function setDetectedLanguage(user, label) {
  if (!label || user.detected === label) return;
  user.detected = label;
  const lang = htmlLang(label);
  if (lang) user.node.lang = lang;
  user.meta.replaceChildren(
    setI18n(h("span", { class: "visually-hidden" }), "detected_language"),
    h("span", {
      class: "detected-language",
      "data-testid": "detected-language",
      "data-label": label,
      dataset: { language: label },
      text: labelName(state.ui, label),
    }),
  );
}

function addAssistantMessage(grounded) {
  const node = h("article", {
    class: "message assistant",
    dir: "auto",
    "data-state": "streaming",
    "aria-busy": "true",
  });
  const answer = {
    node,
    grounded,
    raw: "",
    language: null,
    script: null,
    sources: [],
    dropped: [],
    converted: null, // {label, text} once transliterated
    showConverted: false,
    notice: h("p", { class: "notice", dir: "auto", hidden: true }),
    text: h("div", { class: "text" }),
    errorText: h("p", { class: "error-text", dir: "auto", hidden: true }),
    meta: chrome("div", { class: "meta" }),
    renderQueued: false,
  };
  node.append(
    chrome("span", { class: "visually-hidden" }, setI18n(h("span"), "speaker_assistant")),
    answer.notice,
    answer.text,
    answer.errorText,
    answer.meta,
  );
  answers.set(node, answer);
  dom.messages.append(node);
  scrollToBottom();
  return answer;
}

/** The answer text with each [n] marker made a link to source n. */
function renderAnswerText(answer) {
  const text = answer.showConverted && answer.converted ? answer.converted.text : answer.raw;
  if (!answer.grounded) {
    answer.text.textContent = text;
    return;
  }
  const fragment = document.createDocumentFragment();
  const marker = /\[(\d{1,3})\]/g;
  let position = 0;
  for (const match of text.matchAll(marker)) {
    if (match.index > position) fragment.append(text.slice(position, match.index));
    const n = match[1];
    fragment.append(
      h("a", {
        class: "cite",
        href: `#source-${n}`,
        dataset: { n, i18nAriaLabel: "cite_link", i18nVars: JSON.stringify({ n: Number(n) }) },
        "aria-label": t("cite_link", { n: Number(n) }),
        text: `[${n}]`,
      }),
    );
    position = match.index + match[0].length;
  }
  if (position < text.length) fragment.append(text.slice(position));
  answer.text.replaceChildren(fragment);
}

/** Re-renders at most once a frame while tokens stream in. */
function queueRender(answer) {
  if (answer.renderQueued) return;
  answer.renderQueued = true;
  requestAnimationFrame(() => {
    answer.renderQueued = false;
    const follow = scrolledToBottom();
    renderAnswerText(answer);
    if (follow) scrollToBottom();
  });
}

/** Siyada's details on a chunk: languages on the first, sources on the last. */
function applySiyada(details, user, answer) {
  if (!details || typeof details !== "object") return;
  if (details.question_language) setDetectedLanguage(user, details.question_language);
  if (details.language) {
    answer.language = details.language;
    answer.script = details.script || null;
    const lang = htmlLang(details.language);
    if (lang) answer.node.lang = lang;
  }
  if (details.notice) {
    answer.notice.textContent = details.notice;
    answer.notice.hidden = false;
  }
  if (Array.isArray(details.sources)) {
    answer.sources = details.sources;
    answer.dropped = Array.isArray(details.dropped_citations) ? details.dropped_citations : [];
    showSources(answer);
  }
}

async function ask(question) {
  const collection = dom.collection.value;
  const model = dom.model.value;
  clearError();
  const user = addUserMessage(question);
  const answer = addAssistantMessage(Boolean(collection));
  const body = {
    model,
    // The last turns are enough context, and the server caps a request's messages.
    messages: [...state.history.slice(-HISTORY_MESSAGES), { role: "user", content: question }],
    stream: true,
  };
  // Without a collection the request is plain chat (the server needs at least one name).
  if (collection) body.siyada = { collections: [collection] };

  const controller = new AbortController();
  state.streaming = { controller, answer };
  setStreaming(true);
  try {
    const response = await request(API.chat, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("application/json")) {
      // A server that answered whole instead of streaming.
      const whole = await response.json();
      applySiyada(whole.siyada, user, answer);
      answer.raw = whole.choices?.[0]?.message?.content ?? "";
    } else {
      await readStream(response.body, user, answer);
    }
    finishAnswer(answer, "done");
    state.history.push(
      { role: "user", content: question },
      { role: "assistant", content: answer.raw },
    );
  } catch (error) {
    if (error.name === "AbortError") {
      finishAnswer(answer, "done");
      answer.errorText.hidden = false;
      setI18n(answer.errorText, "stopped");
    } else {
      finishAnswer(answer, "error");
      answer.errorText.hidden = false;
      answer.errorText.textContent = error.message;
      showError(error);
    }
  } finally {
    state.streaming = null;
    setStreaming(false);
  }
}

async function readStream(body, user, answer) {
  for await (const data of serverSentEvents(body)) {
    if (data.trim() === "[DONE]") return;
    let chunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      throw new ApiError({ message: t("error_bad_event"), code: "bad_event" });
    }
    if (chunk && chunk.error) {
      throw new ApiError({
        message: chunk.error.message || t("error_bad_event"),
        type: chunk.error.type,
        code: chunk.error.code,
      });
    }
    applySiyada(chunk.siyada, user, answer);
    const piece = chunk.choices?.[0]?.delta?.content;
    if (piece) {
      answer.raw += piece;
      queueRender(answer);
    }
  }
  throw new ApiError({ message: t("error_stream_cut"), code: "stream_cut" });
}

function finishAnswer(answer, outcome) {
  renderAnswerText(answer);
  answer.node.dataset.state = outcome;
  answer.node.setAttribute("aria-busy", "false");
  const meta = [];
  if (answer.language) {
    const shown = displayedLabel(answer);
    meta.push(
      setI18n(h("span", { class: "visually-hidden" }), "answer_language"),
      h("span", {
        class: "answer-language",
        "data-testid": "answer-language",
        "data-language-script": `${shown}|${displayedScript(answer)}`,
        dataset: { language: answer.language, script: answer.script ?? "" },
        text: languageAndScript(state.ui, shown, displayedScript(answer)),
      }),
    );
    const toggle = outcome === "error" ? null : scriptToggle(answer);
    if (toggle) meta.push(toggle);
  }
  if (answer.grounded && outcome === "done") {
    const count = answer.sources.length;
    const button = h("button", { type: "button", class: "show-sources" });
    setI18n(button, "show_sources", { count });
    button.addEventListener("click", () => showSources(answer));
    if (count) meta.push(button);
  }
  answer.meta.replaceChildren(...meta);
  if (scrolledToBottom()) scrollToBottom();
}

function setStreaming(on) {
  dom.send.disabled = on;
  dom.stop.hidden = !on;
  dom.messages.setAttribute("aria-busy", on ? "true" : "false");
}

// ---- Script toggles ---------------------------------------------------------------------

/** The label of the answer as the server wrote it, made exact with its script
 * (e.g. language "zgh_Tfng" with script "Latn" is ber_Latn). */
function answerLabel(answer) {
  const label = answer.language || "";
  const [base, labelScript] = label.split("_");
  const script = answer.script || labelScript;
  if ((base === "zgh" || base === "ber") && script === "Tfng") return "zgh_Tfng";
  if ((base === "zgh" || base === "ber") && script === "Latn") return "ber_Latn";
  if (base === "ary" && (script === "Latn" || script === "Arab")) return `ary_${script}`;
  return label;
}

function displayedLabel(answer) {
  return answer.showConverted && answer.converted ? answer.converted.label : answerLabel(answer);
}

function displayedScript(answer) {
  return displayedLabel(answer).split("_")[1] || answer.script || "";
}

function scriptToggle(answer) {
  const source = answerLabel(answer);
  const target = SCRIPT_PAIRS[source];
  if (!target || !answer.raw.trim()) return null;
  // Fixed order, whichever side the answer came in: "Tifinagh / Latin", "Arabizi / Arabic".
  const sides = source.startsWith("ary")
    ? [["ary_Latn", "toggle.arabizi"], ["ary_Arab", "toggle.arabic"]]
    : [["zgh_Tfng", "toggle.tifinagh"], ["ber_Latn", "toggle.latin"]];
  const button = h("button", {
    type: "button",
    class: "script-toggle",
    "data-testid": "script-toggle",
    "aria-pressed": "false",
  });
  const spans = sides.map(([label, key]) => setI18n(h("span", { dataset: { side: label } }), key));
  button.append(spans[0], " / ", spans[1]);
  const update = () => {
    const shown = displayedLabel(answer);
    const other = shown === source ? target : source;
    for (const span of spans) span.classList.toggle("current", span.dataset.side === shown);
    button.setAttribute("aria-pressed", String(answer.showConverted));
    button.dataset.shown = shown;
    button.title = t("toggle_show", { script: t(sides.find(([label]) => label === other)[1]) });
    const label = answer.meta.querySelector("[data-language-script]");
    if (label) {
      label.dataset.languageScript = `${shown}|${displayedScript(answer)}`;
      label.textContent = languageAndScript(state.ui, shown, displayedScript(answer));
    }
  };
  button.addEventListener("click", async () => {
    if (button.getAttribute("aria-busy") === "true") return;
    if (!answer.converted) {
      button.setAttribute("aria-busy", "true");
      button.disabled = true;
      try {
        const result = await postJSON(API.transliterate, {
          texts: [answer.raw],
          source,
          target,
        });
        const text = result?.results?.[0];
        if (typeof text !== "string") throw new ApiError({ message: t("error_bad_event") });
        answer.converted = { label: target, text };
      } catch (error) {
        showError(error);
        return;
      } finally {
        button.setAttribute("aria-busy", "false");
        button.disabled = false;
      }
    }
    answer.showConverted = !answer.showConverted;
    answer.node.dataset.script = displayedScript(answer);
    renderAnswerText(answer);
    update();
  });
  // The spans are translated by applyI18n; the title and language label need update().
  button.addEventListener("i18n", update);
  queueMicrotask(update);
  return button;
}

// ---------------------------------------------------------------------------------------
// Sources panel

function showSources(answer) {
  if (state.sourcesFor && state.sourcesFor !== answer) {
    state.sourcesFor.node.classList.remove("sources-shown");
  }
  state.sourcesFor = answer;
  answer.node.classList.add("sources-shown");
  renderSources();
}

function renderSources() {
  const answer = state.sourcesFor;
  dom.sourceList.replaceChildren();
  if (!answer) {
    setI18n(dom.sourcesEmpty, "sources_empty");
    dom.sourcesEmpty.hidden = false;
    dom.sourcesDropped.hidden = true;
    return;
  }
  dom.sourcesEmpty.hidden = answer.sources.length > 0;
  if (!answer.sources.length) setI18n(dom.sourcesEmpty, "sources_none");
  dom.sourcesDropped.hidden = answer.dropped.length === 0;
  if (answer.dropped.length) {
    setI18n(dom.sourcesDropped, "dropped_citations", {
      list: answer.dropped.map((n) => `[${n}]`).join(" "),
    });
  }
  for (const source of answer.sources) {
    const lang = htmlLang(source.language);
    const open = h(
      "button",
      { type: "button", class: "source-open", title: t("open_passage") },
      h(
        "span",
        { class: "source-head" },
        h("span", { class: "source-n", text: `[${source.n}]` }),
        h("bdi", { class: "source-doc", text: source.document ?? "" }),
        source.page !== null && source.page !== undefined
          ? h("span", { class: "source-page", text: t("source_page", { page: source.page }) })
          : null,
        source.cited ? h("span", { class: "cited-badge", text: t("cited") }) : null,
      ),
      h("span", {
        class: "source-snippet",
        dir: "auto",
        lang,
        text: snippet(source.text ?? ""),
      }),
    );
    open.addEventListener("click", () => openPassage(source));
    dom.sourceList.append(
      h(
        "li",
        {
          class: source.cited ? "source cited" : "source",
          id: `source-${source.n}`,
          "data-testid": "source",
          dataset: { n: source.n, cited: String(Boolean(source.cited)) },
        },
        open,
      ),
    );
  }
}

function snippet(text) {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= SNIPPET_CHARS) return flat;
  const cut = flat.lastIndexOf(" ", SNIPPET_CHARS);
  return `${flat.slice(0, cut > SNIPPET_CHARS / 2 ? cut : SNIPPET_CHARS)}…`;
}

/** A click on [n] in an answer: that answer's sources in the panel, source n in view. */
function focusSource(answer, n) {
  if (state.sourcesFor !== answer) showSources(answer);
  const item = dom.sourceList.querySelector(`.source[data-n="${CSS.escape(String(n))}"]`);
  if (!item) return;
  for (const active of dom.sourceList.querySelectorAll(".source.active")) {
    active.classList.remove("active");
  }
  item.classList.add("active");
  const reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  item.scrollIntoView({ block: "nearest", behavior: reduce ? "auto" : "smooth" });
  item.querySelector("button").focus({ preventScroll: true });
}

function openPassage(source) {
  dom.passageTitle.replaceChildren(`[${source.n}] `, h("bdi", { text: source.document ?? "" }));
  const parts = [];
  if (source.page !== null && source.page !== undefined) {
    parts.push(t("source_page", { page: source.page }));
  }
  if (source.language) parts.push(labelName(state.ui, source.language));
  if (source.chunk_id !== null && source.chunk_id !== undefined) {
    parts.push(t("passage_chunk", { id: source.chunk_id }));
  }
  if (source.cited) parts.push(t("cited"));
  dom.passageMeta.textContent = parts.join(" · ");
  dom.passageText.textContent = source.text ?? "";
  const lang = htmlLang(source.language);
  if (lang) dom.passageText.lang = lang;
  else dom.passageText.removeAttribute("lang");
  dom.passage.showModal();
  dom.passageText.scrollTop = 0;
}

// ---------------------------------------------------------------------------------------
// Collections and models

async function loadCollections(select) {
  const body = await getJSON(API.collections);
  state.collections = Array.isArray(body?.data) ? body.data : [];
  const wanted = select ?? dom.collection.value;
  const names = state.collections.map((collection) => collection.name);
  dom.collection.replaceChildren(
    setI18n(h("option", { value: "" }), "no_collection"),
    ...names.map((name) => h("option", { value: name, text: name })),
  );
  // Remembered choice, else the first collection: answers are grounded by default.
  const stored = storageGet(STORAGE.collection);
  const choice = [wanted, stored].find((name) => name && names.includes(name)) ?? names[0] ?? "";
  dom.collection.value = choice;
  updateCollectionInfo();
}

function updateCollectionInfo() {
  const name = dom.collection.value;
  const found = state.collections.find((collection) => collection.name === name);
  if (!found) {
    setI18n(dom.collectionInfo, "collection_stats_none");
    return;
  }
  setI18n(dom.collectionInfo, "collection_stats", {
    documents: Number(found.documents ?? 0),
    chunks: Number(found.chunks ?? 0),
  });
}

async function loadModels() {
  const body = await getJSON(API.models);
  const models = (Array.isArray(body?.data) ? body.data : []).filter(
    (model) => model?.siyada?.type !== "embedding",
  );
  if (!models.length) {
    dom.model.replaceChildren(setI18n(h("option", { value: "" }), "no_models"));
    return;
  }
  dom.model.replaceChildren(
    ...models.map((model) => {
      const backend = model.siyada?.backend;
      return h("option", {
        value: model.id,
        text: backend ? `${model.id} (${backend})` : model.id,
      });
    }),
  );
  const preferred = models.find((model) => model.siyada?.default) ?? models[0];
  dom.model.value = preferred.id;
}

function openCollectionDialog() {
  dom.collectionForm.reset();
  dom.collectionFormError.hidden = true;
  dom.collectionDialog.showModal();
  dom.collectionName.focus();
}

async function createCollection(event) {
  event.preventDefault();
  const name = dom.collectionName.value.trim();
  if (!name) return;
  const button = $("#collection-create");
  button.disabled = true;
  try {
    await postJSON(API.collections, { name });
    dom.collectionDialog.close();
    clearError();
    storageSet(STORAGE.collection, name);
    await loadCollections(name);
    resetUploadReport();
    setI18n(dom.uploadStatus, "collection_created", { name });
  } catch (error) {
    dom.collectionFormError.textContent = error.message;
    dom.collectionFormError.hidden = false;
    showError(error);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------
// Upload and ingest jobs

function uploadFiles(files) {
  const collection = dom.collection.value;
  if (!files.length || state.uploading) return;
  if (!collection) {
    showError(new ApiError({ message: t("upload_need_collection"), code: "no_collection" }));
    return;
  }
  clearError();
  state.uploading = true;
  dom.upload.disabled = true;
  dom.uploadResults.replaceChildren();
  dom.uploadStatus.classList.remove("failed");
  dom.uploadProgress.hidden = false;
  dom.uploadProgress.value = 0;
  setI18n(dom.uploadStatus, "uploading", { percent: 0 });

  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  // XMLHttpRequest rather than fetch: fetch reports no upload progress.
  const xhr = new XMLHttpRequest();
  const sentKey = state.apiKey;
  xhr.open("POST", API.documents(collection));
  xhr.setRequestHeader("Accept", "application/json");
  for (const [name, value] of Object.entries(authorization())) xhr.setRequestHeader(name, value);
  xhr.upload.onprogress = (event) => {
    if (event.lengthComputable && event.total > 0) {
      const fraction = event.loaded / event.total;
      dom.uploadProgress.value = fraction;
      setI18n(dom.uploadStatus, "uploading", { percent: Math.round(fraction * 100) });
    } else {
      dom.uploadProgress.removeAttribute("value"); // indeterminate
    }
  };
  xhr.upload.onload = () => {
    // Sent; the server now stores the files and queues the job: indeterminate until it says.
    dom.uploadProgress.removeAttribute("value");
  };
  xhr.onload = () => {
    let body = null;
    try {
      body = JSON.parse(xhr.responseText);
    } catch {
      /* handled below */
    }
    if (xhr.status >= 200 && xhr.status < 300 && body?.job) {
      renderJob(body);
      pollJob(body.job, collection);
      return;
    }
    const error = body?.error ?? {};
    const failure = new ApiError({
      message: error.message || t("error_http", { status: xhr.status }),
      type: error.type,
      code: error.code,
      status: xhr.status,
      retryAfter: retryAfterSeconds(xhr.getResponseHeader("Retry-After")),
    });
    if (failure.status === 401) unauthorized(failure, sentKey);
    uploadFailed(failure);
  };
  xhr.onerror = () => uploadFailed(new ApiError({ message: t("error_network"), code: "network_error" }));
  xhr.onabort = () => uploadFailed(new ApiError({ message: t("error_network"), code: "aborted" }));
  xhr.send(form);
}

/** Clears the last upload's report (it was about another collection). */
function resetUploadReport() {
  if (state.uploading) return;
  dom.uploadProgress.hidden = true;
  dom.uploadProgress.value = 0;
  dom.uploadResults.replaceChildren();
  dom.uploadStatus.classList.remove("failed");
  dom.uploadStatus.textContent = "";
  delete dom.uploadStatus.dataset.i18n;
  delete dom.uploadStatus.dataset.i18nVars;
}

function uploadFailed(error) {
  dom.uploadProgress.value = 0;
  dom.uploadProgress.hidden = true;
  dom.uploadStatus.textContent = error.message;
  delete dom.uploadStatus.dataset.i18n;
  delete dom.uploadStatus.dataset.i18nVars;
  dom.uploadStatus.classList.add("failed");
  showError(error);
  uploadFinished();
}

function uploadFinished() {
  state.uploading = false;
  dom.upload.disabled = false;
  dom.upload.value = ""; // the same file can be chosen again
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function pollJob(id, collection) {
  let failures = 0;
  let job = null;
  for (;;) {
    await sleep(POLL_MS);
    try {
      job = await getJSON(API.job(id));
      failures = 0;
    } catch (error) {
      failures += 1;
      // A refused key is not a passing failure: stop at once (401 also asked to sign in).
      const refused = error.status === 401 || error.status === 403;
      if (refused || failures >= POLL_FAILURES_TOLERATED) {
        uploadFailed(error);
        return;
      }
      continue;
    }
    renderJob(job);
    if (job.status === "done" || job.status === "failed") break;
  }
  dom.uploadProgress.value = 1;
  if (job.status === "failed") {
    dom.uploadStatus.classList.add("failed");
    showError(new ApiError({ message: job.error || t("job.failed"), code: "ingest_failed" }));
  }
  uploadFinished();
  try {
    await loadCollections(dom.collection.value || collection);
  } catch (error) {
    showError(error);
  }
}

function renderJob(job) {
  const status = ["queued", "running", "done", "failed"].includes(job.status) ? job.status : "running";
  dom.uploadStatus.dataset.status = status;
  if (status === "done" || status === "failed") dom.uploadProgress.value = 1;
  else dom.uploadProgress.removeAttribute("value");
  setI18n(dom.uploadStatus, `job.${status}`);
  if (status === "failed" && job.error) {
    dom.uploadStatus.append(h("span", { dir: "auto", text: ` ${job.error}` }));
  }
  const files = Array.isArray(job.files) ? job.files : [];
  dom.uploadResults.replaceChildren(
    ...files.map((file) => {
      const outcome = String(file.outcome ?? "");
      const known = ["added", "updated", "unchanged", "failed", "pruned"].includes(outcome);
      return h(
        "li",
        { class: outcome, dataset: { outcome } },
        h("bdi", { class: "file-name", text: file.name ?? "" }),
        known
          ? setI18n(h("span", { class: "outcome" }), `outcome.${outcome}`)
          : h("span", { class: "outcome", text: outcome }),
        Number.isFinite(file.chunks) && file.chunks > 0
          ? setI18n(h("span", { class: "muted" }), "file_chunks", { count: file.chunks })
          : null,
        file.error ? h("span", { class: "file-error", dir: "auto", text: file.error }) : null,
      );
    }),
  );
}

// ---------------------------------------------------------------------------------------
// Events

function autosize() {
  const box = dom.question;
  box.style.blockSize = "auto";
  box.style.blockSize = `${Math.min(box.scrollHeight + 2, 192)}px`;
}

function newConversation() {
  state.streaming?.controller.abort();
  state.history = [];
  state.sourcesFor = null;
  for (const node of dom.messages.querySelectorAll(".message")) node.remove();
  dom.emptyState.hidden = false;
  renderSources();
  clearError();
  dom.question.focus();
}

function bindEvents() {
  dom.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = dom.question.value.trim();
    if (!question || state.streaming) return;
    dom.question.value = "";
    autosize();
    ask(question);
    dom.question.focus();
  });

  dom.question.addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter is a new line; never while an input method composes a word.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
      return;
    }
    event.preventDefault();
    dom.composer.requestSubmit();
  });
  dom.question.addEventListener("input", autosize);

  dom.stop.addEventListener("click", () => state.streaming?.controller.abort());
  dom.newChat.addEventListener("click", newConversation);
  dom.errorClose.addEventListener("click", clearError);

  dom.uiLanguage.addEventListener("change", () => {
    setUiLanguage(dom.uiLanguage.value);
    for (const toggle of document.querySelectorAll(".script-toggle")) {
      toggle.dispatchEvent(new Event("i18n"));
    }
  });

  dom.collection.addEventListener("change", () => {
    storageSet(STORAGE.collection, dom.collection.value);
    updateCollectionInfo();
    resetUploadReport();
  });
  dom.newCollection.addEventListener("click", openCollectionDialog);
  dom.collectionForm.addEventListener("submit", createCollection);
  dom.collectionCancel.addEventListener("click", () => dom.collectionDialog.close());

  // Citation links: delegated, as answers are re-rendered while they stream.
  dom.messages.addEventListener("click", (event) => {
    const link = event.target.closest("a.cite");
    if (!link) return;
    event.preventDefault();
    const answer = answers.get(link.closest(".message"));
    if (answer) focusSource(answer, link.dataset.n);
  });

  // A click on the backdrop (outside the dialog's content) closes it.
  for (const dialog of [dom.passage, dom.collectionDialog]) {
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close();
    });
  }

  dom.signinForm.addEventListener("submit", signIn);
  // The `siyada serve` link opened in a tab that already shows the app: no reload, only a
  // new fragment.
  window.addEventListener("hashchange", () => {
    const key = takeKeyFromUrl();
    if (key) useKey(key);
  });
  dom.signOut.addEventListener("click", signOut);
  dom.signIn.addEventListener("click", () => openSignIn());
  dom.signinLanguage.addEventListener("change", () => {
    dom.uiLanguage.value = dom.signinLanguage.value;
    dom.uiLanguage.dispatchEvent(new Event("change"));
  });

  dom.upload.addEventListener("change", () => uploadFiles([...dom.upload.files]));
  dom.dropzone.addEventListener("dragover", (event) => {
    event.preventDefault();
    dom.dropzone.classList.add("dragging");
  });
  dom.dropzone.addEventListener("dragleave", () => dom.dropzone.classList.remove("dragging"));
  dom.dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dom.dropzone.classList.remove("dragging");
    uploadFiles([...(event.dataTransfer?.files ?? [])]);
  });
}

// ---------------------------------------------------------------------------------------
// Sign-in (API key)

/**
 * The key in the page's address (`#key=...`, the link `siyada serve` prints), taken out of
 * the address bar at once: it is left in no history entry, bookmark or shared link.
 */
function takeKeyFromUrl() {
  const fragment = window.location.hash.replace(/^#/, "");
  if (!fragment) return null;
  const params = new URLSearchParams(fragment);
  if (!params.has("key")) return null;
  const key = cleanKey(params.get("key"));
  params.delete("key");
  const rest = params.toString();
  const { pathname, search } = window.location;
  try {
    history.replaceState(history.state, "", `${pathname}${search}${rest ? `#${rest}` : ""}`);
  } catch {
    window.location.hash = rest; // no History API (a sandboxed frame): at least drop the key
  }
  return key || null;
}

/** A pasted key without the spaces around it, or a "Bearer " copied with it. */
function cleanKey(value) {
  return String(value ?? "")
    .trim()
    .replace(/^Bearer\s+/i, "");
}

/** The stored key: this tab's, else the one remembered on this device. */
function storedKey() {
  return storageGet(STORAGE.apiKey, "session") || storageGet(STORAGE.apiKey, "local") || null;
}

function keyRememberedOnDevice() {
  return Boolean(storageGet(STORAGE.apiKey, "local"));
}

function rememberKey(key, onDevice) {
  storageSet(STORAGE.apiKey, key, onDevice ? "local" : "session");
  storageRemove(STORAGE.apiKey, onDevice ? "session" : "local");
}

function forgetKey() {
  state.apiKey = null;
  storageRemove(STORAGE.apiKey, "session");
  storageRemove(STORAGE.apiKey, "local");
  updateAccount();
}

/** "Sign out" while a key is in use, "Sign in" while none is. */
function updateAccount() {
  dom.signOut.hidden = !state.apiKey;
  dom.signIn.hidden = Boolean(state.apiKey);
}

/**
 * A 401: the key sent was refused (unknown, revoked, expired) or none was sent. The key is
 * forgotten and the sign-in dialog asks for another; nothing is retried until the user signs
 * in, so a refused key cannot loop. A late answer to a request sent with an older key says
 * nothing about the current one and is left alone.
 */
function unauthorized(error, sentKey) {
  if (sentKey !== state.apiKey) return;
  if (state.apiKey) {
    dom.signinRemember.checked = keyRememberedOnDevice();
    forgetKey();
  }
  openSignIn(error);
}

function openSignIn(error = null) {
  setSignInError(error);
  if (!dom.signinDialog.open) {
    dom.signinKey.value = "";
    dom.signinDialog.showModal();
  }
  dom.signinKey.focus();
}

function setSignInError(error) {
  if (!error) {
    dom.signinError.hidden = true;
    dom.signinErrorMessage.textContent = "";
    delete dom.signinErrorMessage.dataset.i18n;
    dom.signinErrorDetail.textContent = "";
    return;
  }
  if (error instanceof ApiError && error.status === 401) {
    // The server's own words (in English, naming the key file) stay as the detail.
    const key = error.code === "missing_api_key" ? "sign_in_needed" : "sign_in_rejected";
    setI18n(dom.signinErrorMessage, key);
    // Isolated: an English message keeps its order, aligned with the dialog's direction.
    dom.signinErrorDetail.replaceChildren(h("bdi", { text: error.message }));
  } else {
    delete dom.signinErrorMessage.dataset.i18n;
    dom.signinErrorMessage.textContent = errorText(error);
    dom.signinErrorDetail.textContent = "";
  }
  dom.signinError.hidden = false;
}

/** The signed-in view: the key's collections and the models. Throws the first failure. */
async function loadAccountData() {
  const results = await Promise.allSettled([loadCollections(), loadModels()]);
  const failed = results.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
}

async function signIn(event) {
  event.preventDefault();
  const key = cleanKey(dom.signinKey.value);
  if (!key) {
    dom.signinKey.focus();
    return;
  }
  // An HTTP header holds printable ASCII only (a Siyada key always does).
  if (!/^[\x21-\x7e]+$/.test(key)) {
    setSignInError(new Error(t("sign_in_malformed")));
    dom.signinKey.focus();
    return;
  }
  dom.signinSubmit.disabled = true;
  dom.signinDialog.setAttribute("aria-busy", "true");
  setSignInError(null);
  clearError(); // what the page showed was about the previous key
  state.apiKey = key;
  try {
    await loadAccountData();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      // Refused: unauthorized() forgot the key and said why; the dialog stays.
      dom.signinKey.focus();
      dom.signinKey.select();
      return;
    }
    showError(error); // the key may be fine (a network failure, a quota): keep it
  } finally {
    dom.signinSubmit.disabled = false;
    dom.signinDialog.setAttribute("aria-busy", "false");
  }
  if (state.apiKey !== key) return;
  rememberKey(key, dom.signinRemember.checked);
  updateAccount();
  dom.signinKey.value = "";
  dom.signinDialog.close();
  dom.question.focus();
}

/** Signs in with a key from the address (not checked first: a 401 opens the dialog). */
async function useKey(key) {
  // Kept where the previous key was: on the device if it was remembered there.
  rememberKey(key, keyRememberedOnDevice());
  state.apiKey = key;
  updateAccount();
  if (dom.signinDialog.open) dom.signinDialog.close();
  clearError();
  try {
    await loadAccountData();
  } catch (error) {
    showError(error); // a 401 opened the sign-in dialog instead
  }
}

function signOut() {
  forgetKey();
  newConversation();
  resetUploadReport();
  state.collections = [];
  dom.collection.replaceChildren(setI18n(h("option", { value: "" }), "no_collection"));
  dom.model.replaceChildren(setI18n(h("option", { value: "" }), "no_models"));
  updateCollectionInfo();
  dom.signinRemember.checked = false;
  openSignIn();
}

// ---------------------------------------------------------------------------------------
// Start-up

async function start() {
  const fromUrl = takeKeyFromUrl(); // first: the key leaves the address bar at once
  const stored = storageGet(STORAGE.ui);
  setUiLanguage(stored && UI_LANGUAGES[stored] ? stored : DEFAULT_UI_LANGUAGE, { remember: false });
  bindEvents();
  renderSources();
  dom.signinRemember.checked = keyRememberedOnDevice();
  const key = fromUrl ?? storedKey();
  if (key) await useKey(key);
  else {
    updateAccount();
    openSignIn();
  }
}

start();
