/* Stockwire live stock client: keeps every [data-stock-item] element in step with /ws/stock/.
 *
 * Speaks the protocol of stockwire/protocol.py (docs/protocol.md). Plain script, no build step.
 * The page is the state: each element carries its item's quantity and data-version, so an
 * update is applied only when it is newer than what the element shows. An element shows what a
 * buyer can take now (`quantity`), or with data-stock-field="on_hand" or "held" that count.
 *
 * Presence: the page *views* the items of its [data-view-item] elements (the item page has
 * one) and subscribes to the other [data-stock-item] ids. Every [data-presence-item="42"]
 * element shows how many people view item 42: data-viewers, data-seq, and the text
 * "3 people are looking at this" ("3 looking" with data-presence-format="short"; empty for 0).
 * Events on document: stockwire:stock, :presence, :status, :error, :back_in_stock when a
 * sold-out item this user waits for is available again (stockwire.alert on the server; detail
 * {type, item, available, waiting}, `waiting` the alerts of the item fired at once: more than
 * `available` when not everyone can have one), and :message for each message of the shop's own
 * (notify_user on the server), e.g. {type: "order", order: {...}}.
 */
(() => {
  "use strict";

  // Until the server suggests its own (in hello, `reconnect`): the first retry within half a
  // second, none later than 15 s, so a restarted server is not stampeded and users barely wait.
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_CAP_MS = 15000;
  // Under the 30-60 s after which common proxies and home routers drop an idle connection.
  const PING_EVERY_MS = 25000;
  // Two pings without any answer: the connection is dead even if TCP has not noticed yet.
  const SILENCE_LIMIT_MS = 60000;
  // Until hello says the server's own (STOCKWIRE["MAX_SUBSCRIPTIONS"]): items one socket may watch.
  let maxSubscriptions = 200;
  // Close codes after which retrying cannot help (stockwire/protocol.py CloseCode).
  const UNAUTHORIZED = 4401;
  const FORBIDDEN_ORIGIN = 4403;

  const LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };

  const emit = (name, detail) => document.dispatchEvent(new CustomEvent(`stockwire:${name}`, { detail }));

  /** Show a stock message wherever the item is shown, unless the page already has that version or a newer one. */
  function apply(stock) {
    const { item, version } = stock;
    let applied = false;
    for (const el of document.querySelectorAll(`[data-stock-item="${Number(item)}"]`)) {
      // A late or repeated message (or one that lost a race with an HTTP response) never moves back.
      const shown = stock[el.dataset.stockField || "quantity"];
      if (shown === undefined || !(version > Number(el.dataset.version || 0))) continue;
      el.textContent = String(shown);
      el.dataset.version = String(version);
      applied = true;
    }
    if (applied) emit("stock", stock);
    return applied;
  }

  // item id -> seq of the newest presence count shown; counts are ordered by seq, like versions.
  const presenceSeqs = new Map();

  /** Show {item, viewers, seq} wherever the item's presence is shown, unless it is not newer. */
  function showPresence({ item, viewers, seq }) {
    if (!(seq > (presenceSeqs.get(item) || 0))) return;
    presenceSeqs.set(item, seq);
    for (const el of document.querySelectorAll(`[data-presence-item="${Number(item)}"]`)) {
      el.dataset.viewers = String(viewers);
      el.dataset.seq = String(seq);
      el.textContent = presenceText(viewers, el.dataset.presenceFormat);
    }
    emit("presence", { item, viewers });
  }

  function presenceText(viewers, format) {
    if (viewers === 0) return ""; // nobody else: nothing worth saying
    if (format === "short") return `${viewers} looking`;
    return viewers === 1 ? "1 person is looking at this" : `${viewers} people are looking at this`;
  }

  /** Unique, valid item ids of the elements under `root` that match `selector`. */
  function idsOf(root, selector, key) {
    const ids = new Set();
    for (const el of root.querySelectorAll(selector)) {
      const id = Number(el.dataset[key]);
      if (Number.isSafeInteger(id) && id > 0) ids.add(id);
    }
    return [...ids];
  }

  /** The ids of the items shown under `root`: unique, valid, and no more than the server allows. */
  function pageItems(root = document) {
    return idsOf(root, "[data-stock-item]", "stockItem").slice(0, maxSubscriptions);
  }

  /** Open the socket and keep it open until close() or a refusal; returns {state, close()}. */
  function connect(options = {}) {
    const {
      url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/stock/`,
      root = document,
      indicator = document.querySelector("[data-live]"),
      loginHint = document.querySelector("[data-live-login]"),
    } = options;
    const connection = { state: "connecting", close: stop };
    let socket = null;
    let attempt = 0;
    let backoff = { base_ms: BACKOFF_BASE_MS, cap_ms: BACKOFF_CAP_MS };
    let stopped = false;
    let pending = null; // items whose snapshot has not arrived on this socket; null until hello
    let retryTimer, pingTimer, silenceTimer;

    function setState(state, code) {
      connection.state = state;
      if (indicator) {
        indicator.dataset.live = String(state === "live");
        indicator.dataset.state = state;
        (indicator.querySelector("[data-live-label]") || indicator).textContent = LABELS[state];
      }
      emit("status", { state, code });
    }

    function open() {
      clearTimeout(retryTimer);
      socket = new WebSocket(url);
      socket.onopen = () => {
        pingTimer = setInterval(() => send({ action: "ping" }), PING_EVERY_MS);
      };
      socket.onmessage = (event) => {
        expectWithin(SILENCE_LIMIT_MS);
        receive(event.data);
      };
      socket.onclose = (event) => closed(event.code);
      // Also bounds a handshake that hangs on a dead network.
      expectWithin(SILENCE_LIMIT_MS);
    }

    function expectWithin(ms) {
      clearTimeout(silenceTimer);
      silenceTimer = setTimeout(() => closed(0), ms);
    }

    function send(message) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    }

    // Forget the old socket before closing it: on a dead network its close event may come much
    // later, and it must not touch the page or schedule a second reconnect.
    function teardown() {
      clearInterval(pingTimer);
      clearTimeout(silenceTimer);
      pending = null;
      if (!socket) return;
      socket.onopen = socket.onmessage = socket.onclose = null;
      socket.close();
      socket = null;
    }

    function closed(code) {
      teardown();
      if (stopped) return;
      if (code === UNAUTHORIZED || code === FORBIDDEN_ORIGIN) {
        stopped = true;
        setState("offline", code);
        if (code === UNAUTHORIZED && loginHint) loginHint.hidden = false;
        return;
      }
      setState("reconnecting", code);
      // Full jitter: clients dropped together by a restart come back spread over the window.
      const delay = Math.random() * Math.min(backoff.cap_ms, backoff.base_ms * 2 ** Math.min(attempt, 16));
      attempt += 1;
      retryTimer = setTimeout(open, delay);
    }

    function stop() {
      stopped = true;
      clearTimeout(retryTimer);
      teardown();
      setState("offline");
    }

    function receive(text) {
      let message;
      try {
        message = JSON.parse(text);
      } catch {
        return console.warn("Stockwire: ignoring a frame that is not JSON", text);
      }
      switch (message.type) {
        case "hello": {
          attempt = 0; // The server is healthy again: the next drop starts from a short delay.
          if (message.reconnect) backoff = message.reconnect; // the operators' word wins
          if (message.max_subscriptions) maxSubscriptions = message.max_subscriptions;
          // Viewed items first: they are what the page is about. `view` subscribes to them too.
          const viewed = idsOf(root, "[data-view-item]", "viewItem").slice(0, maxSubscriptions);
          const others = pageItems(root).filter((id) => !viewed.includes(id));
          const items = others.slice(0, maxSubscriptions - viewed.length);
          pending = new Set([...viewed, ...items]);
          // The answer is a snapshot of every item: it resyncs whatever changed while we were away.
          if (viewed.length) send({ action: "view", items: viewed });
          if (items.length) send({ action: "subscribe", items });
          break;
        }
        case "presence":
          showPresence(message);
          break;
        case "stock":
          if (pending) pending.delete(message.item);
          apply(message);
          break;
        case "error":
          console.warn(`Stockwire: ${message.code}: ${message.detail}`);
          // An error answers our view or subscribe (unknown items): the snapshot is as complete
          // as it gets.
          if (pending) for (const id of message.items || [...pending]) pending.delete(id);
          emit("error", message);
          break;
        case "back_in_stock":
          emit("back_in_stock", message);
          break;
        case "pong":
          break;
        default:
          // A message of the shop's own to this user (notify_user): the page decides.
          emit("message", message);
      }
      // Live means "every number on the page is current", so only once the snapshot is in.
      if (pending && pending.size === 0 && connection.state !== "live") setState("live");
    }

    // Back on the network: try now rather than at the end of a long backoff.
    window.addEventListener("online", () => {
      if (!socket && !stopped) open();
    });
    setState("connecting");
    open();
    return connection;
  }

  window.Stockwire = { connect, apply, pageItems, connection: null };

  // <script data-autoconnect> connects once the page is parsed; pages may also call connect().
  const script = document.currentScript;
  if (script && "autoconnect" in script.dataset) {
    const start = () => {
      window.Stockwire.connection = connect();
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  }
})();
