/* The shop's page glue: the Buy flow, "Notify me", the stock room's Restock, live availability
 * and toasts.
 *
 * Live numbers are stockwire.js's job; this file reacts to its DOM events, so a page behaves
 * the same whether a change came from this tab, another tab or another shopper. Writes go to
 * the JSON API (docs: /api/schema/), whose error bodies are {"error": code, "detail": text}.
 */
(() => {
  "use strict";

  const TOAST_MS = 6000;
  const toasts = document.querySelector("[data-toasts]");

  function csrfToken() {
    const cookie = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (cookie) return decodeURIComponent(cookie[1]);
    // With CSRF_COOKIE_HTTPONLY the cookie is unreadable; the page's {% csrf_token %} still works.
    const field = document.querySelector("[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  /** A random key for Idempotency-Key; crypto.randomUUID needs HTTPS, getRandomValues does not. */
  function newKey() {
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /** Send JSON to the API; resolves to {status, body, response}, rejects only if the shop is unreachable. */
  async function send(method, url, payload, headers = {}) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), ...headers },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    // Errors are JSON; a proxy's HTML error page is not, and a 204 has no body, so be lenient.
    const body = await response.json().catch(() => ({}));
    return { status: response.status, body, response };
  }

  const post = (url, payload, headers) => send("POST", url, payload, headers);

  /** Write into a [role=status] element; `kind` is success, error or info. */
  function say(el, kind, ...parts) {
    el.dataset.kind = kind;
    el.replaceChildren(...parts);
  }

  /** The form's quantity field as a whole number of at least 1, or null after saying why not. */
  function quantityOf(form, message) {
    const quantity = Number(form.elements.quantity.value);
    if (Number.isInteger(quantity) && quantity >= 1) return quantity;
    say(message, "error", "Enter a whole number of at least 1.");
    form.elements.quantity.focus();
    return null;
  }

  function loggedOut(el, action) {
    const link = document.createElement("a");
    link.href = `${document.body.dataset.loginUrl || "/login/"}?next=${encodeURIComponent(location.pathname)}`;
    link.textContent = "Log in";
    say(el, "error", "You are logged out. ", link, ` to ${action}.`);
  }

  /** The message for a refused write that every form shares; null when the caller knows better. */
  function commonError(el, { status, body, response }, action) {
    if (status === 401 || (status === 403 && body.error !== "permission_denied")) {
      loggedOut(el, action); // 403 without permission_denied: no session, so no CSRF cookie either
    } else if (status === 429) {
      const wait = Number(response.headers.get("Retry-After")) || 60;
      say(el, "error", `Too many attempts in a short time. Please wait ${wait} s and try again.`);
    } else if (status === 503) {
      say(el, "error", "The shop is briefly unavailable. Please try again in a few seconds.");
    } else {
      say(el, "error", body.detail || `That did not work (HTTP ${status}). Please try again.`);
    }
  }

  const itemName = (id) => {
    const el = document.querySelector(`[data-item-name="${Number(id)}"]`);
    return el ? el.textContent.trim() : `item ${id}`;
  };

  /** The quantity shown for an item now (what can be bought): the live number, whoever last changed it. */
  const shownQuantity = (id) =>
    Number(document.querySelector(`[data-stock-item="${Number(id)}"]:not([data-stock-field])`).textContent);

  /** An item of the API's answers as a stock message, for Stockwire.apply. */
  const stockOf = (item) => ({
    item: item.id, quantity: item.quantity, on_hand: item.on_hand, held: item.held, version: item.version,
  });

  /** "Only N left" while 0 < available <= LOW_STOCK_AT (each element carries the threshold). */
  function renderLowStock(id, quantity) {
    for (const el of document.querySelectorAll(`[data-low-stock="${Number(id)}"]`)) {
      el.hidden = !(quantity > 0 && quantity <= Number(el.dataset.lowStockAt));
      el.textContent = `Only ${quantity} left`;
    }
  }

  function renderAvailability(card, quantity) {
    const soldOut = quantity <= 0;
    card.classList.toggle("is-sold-out", soldOut);
    for (const badge of card.querySelectorAll("[data-sold-out]")) badge.hidden = !soldOut;
    const button = card.querySelector("[data-buy-item]");
    // A purchase in flight keeps its button disabled until its answer is in.
    if (button && !button.hasAttribute("aria-busy")) button.disabled = soldOut;
    const notify = card.querySelector("[data-notify]");
    if (notify) notify.hidden = !soldOut;
  }

  function highlight(el) {
    el.classList.remove("is-updated");
    void el.offsetWidth; // Force a reflow so back-to-back updates restart the animation.
    el.classList.add("is-updated");
    el.addEventListener("animationend", () => el.classList.remove("is-updated"), { once: true });
  }

  function toast(text, href) {
    if (!toasts) return;
    const el = document.createElement(href ? "a" : "div");
    el.className = "toast";
    el.textContent = text;
    if (href) el.href = href;
    toasts.append(el);
    setTimeout(() => el.remove(), TOAST_MS);
  }

  // -- Buy: a quantity; Buy holds the units while the shopper decides; confirm or cancel ---------

  // Each form's hold while it lasts: {id, quantity, key, deadline, timer, busy}.
  const holds = new WeakMap();

  // Each step of the form: its part, and what gets the focus when it is shown.
  const STEPS = {
    choose: ["[data-buy-choose]", "[name=quantity]"],
    held: ["[data-buy-confirm]", "[data-confirm-yes]"],
    expired: ["[data-buy-expired]", "[data-buy-again]"],
  };

  function formatPrice(price, quantity) {
    const cents = Math.round(Number(price) * 100) * quantity;
    return (cents / 100).toFixed(2);
  }

  /** Show one step of the form and move the focus to what the shopper does next there. */
  function showStep(form, step) {
    for (const [name, [part]] of Object.entries(STEPS)) form.querySelector(part).hidden = name !== step;
    form.dataset.step = step;
    form.querySelector(STEPS[step][1]).focus();
  }

  const stepOf = (form) => form.dataset.step || "choose";

  /** Disable the buttons of a step while its request is out, so nothing is sent twice. */
  function busy(form, on) {
    for (const button of form.querySelectorAll("[data-confirm-yes], [data-confirm-no], [data-buy-again]")) {
      button.disabled = on;
    }
    const buy = form.querySelector("[data-buy-item]");
    if (on) {
      buy.disabled = true;
      buy.setAttribute("aria-busy", "true");
    } else {
      buy.removeAttribute("aria-busy");
      renderAvailability(form.closest("[data-item-card]"), shownQuantity(form.dataset.item));
    }
  }

  /** Milliseconds a hold has left, by the server's clock alone: a shopper's clock may be minutes
   * off, so the countdown runs on performance.now() from the server's own expires_at - Date. */
  function timeLeft(hold, response) {
    const answered = Date.parse(response.headers.get("Date"));
    // Date has whole seconds: the server's clock may be up to 1 s past it. End early, not late.
    const now = Number.isNaN(answered) ? Date.now() : answered + 1000;
    return Date.parse(hold.expires_at) - now;
  }

  async function placeHold(form) {
    const id = Number(form.dataset.item);
    const message = form.querySelector("[data-buy-message]");
    const quantity = quantityOf(form, message);
    if (quantity === null) return;
    say(message, "info");
    busy(form, true);
    let held = null;
    try {
      const answer = await post(`/api/items/${id}/holds`, { quantity });
      const { status, body } = answer;
      if (status === 201) {
        held = { hold: body.hold, deadline: performance.now() + timeLeft(body.hold, answer.response) };
        if (window.Stockwire) window.Stockwire.apply(stockOf(body.item));
      } else if (body.error === "insufficient_stock") {
        const left = Number(body.available);
        say(message, "error", left > 0
          ? `Only ${left} left of ${itemName(id)}. Lower the quantity and try again.`
          : `Sorry, ${itemName(id)} just sold out.`);
      } else if (body.error === "hold_limit_reached") {
        say(message, "error", `You can hold at most ${Number(body.limit)} units at a time. ` +
          "Lower the quantity, or buy or cancel what you hold first.");
      } else if (status === 404) {
        say(message, "error", `${itemName(id)} is no longer for sale.`);
      } else {
        commonError(message, answer, "buy");
      }
    } catch {
      // If the hold was made after all, it runs out by itself.
      say(message, "error", "Could not reach the shop. Please try again.");
    } finally {
      busy(form, false);
    }
    if (held) startCountdown(form, held.hold, held.deadline);
    else showStep(form, "choose");
  }

  function startCountdown(form, hold, deadline) {
    // One key per hold: a retry of Confirm after a network failure cannot buy twice.
    const state = { id: hold.id, quantity: hold.quantity, key: newKey(), deadline };
    holds.set(form, state);
    form.querySelector("[data-confirm-text]").textContent =
      `Buy ${hold.quantity} × ${itemName(form.dataset.item)} for ${formatPrice(form.dataset.price, hold.quantity)}?`;
    tick(form, state);
    showStep(form, "held");
  }

  /** Show the time left as m:ss, then wake up when the next second starts. */
  function tick(form, state) {
    const ms = state.deadline - performance.now();
    const left = Math.max(0, Math.ceil(ms / 1000));
    form.querySelector("[data-hold-left]").textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    if (left === 60) say(form.querySelector("[data-buy-message]"), "info", "1 minute left to confirm.");
    // A purchase on its way settles it instead: the shop may have sold the units just in time.
    if (left === 0) {
      if (!state.busy) holdExpired(form);
      return;
    }
    state.timer = setTimeout(() => tick(form, state), ms % 1000 || 1000);
  }

  function endHold(form) {
    const state = holds.get(form);
    if (state) clearTimeout(state.timer);
    holds.delete(form);
    return state;
  }

  function holdExpired(form) {
    const state = endHold(form);
    say(form.querySelector("[data-buy-message]"), "info",
      `Your hold on ${state.quantity} × ${itemName(form.dataset.item)} expired; its units went back on sale.`);
    showStep(form, "expired");
  }

  async function confirmPurchase(form) {
    const state = holds.get(form);
    if (!state || state.busy) return;
    const id = Number(form.dataset.item);
    const message = form.querySelector("[data-buy-message]");
    state.busy = true;
    busy(form, true);
    let next = "choose";
    try {
      const answer = await post(
        `/api/items/${id}/purchase`, { quantity: state.quantity, hold: state.id }, { "Idempotency-Key": state.key },
      );
      const { status, body } = answer;
      if (status === 201) {
        // Same version check as the socket's: the buyer sees the new number at once, and
        // whichever of the two arrives second is dropped.
        if (body.item && window.Stockwire) window.Stockwire.apply(stockOf(body.item));
        say(message, "success", `Bought ${body.order.quantity} × ${body.order.item_name}. Order #${body.order.id} is confirmed.`);
      } else if (body.error === "hold_expired" || body.error === "unknown_hold") {
        next = "expired";
      } else if (status === 404) {
        say(message, "error", `${itemName(id)} is no longer for sale.`);
      } else {
        commonError(message, answer, "buy");
        // Waiting out a rate limit or an outage: the hold still keeps the units meanwhile.
        if (status === 429 || status === 503) next = "held";
      }
    } catch {
      // The request may or may not have reached the shop; the same key makes a retry safe.
      next = "held";
      say(message, "error", "Could not reach the shop. Confirm again to retry: you will not be charged twice.");
    } finally {
      state.busy = false;
      busy(form, false);
    }
    if (next === "held" && state.deadline > performance.now()) {
      showStep(form, "held");
    } else if (next === "choose") {
      endHold(form);
      showStep(form, "choose");
    } else {
      holdExpired(form);
    }
  }

  async function cancelHold(form) {
    const state = holds.get(form);
    if (!state || state.busy) return;
    const message = form.querySelector("[data-buy-message]");
    state.busy = true;
    busy(form, true);
    try {
      const answer = await send("DELETE", `/api/holds/${state.id}`);
      // 404: the hold had already ended, its units back on sale all the same.
      if (answer.status === 204 || answer.body.error === "unknown_hold") {
        say(message, "info", "Cancelled: the units you held are for sale again.");
      } else {
        commonError(message, answer, "cancel");
      }
    } catch {
      say(message, "error", "Could not reach the shop. Your hold runs out by itself shortly.");
    } finally {
      busy(form, false);
    }
    endHold(form);
    showStep(form, "choose");
  }

  // -- Notify me: a sold-out item's back-in-stock alert -------------------------------------

  /** Show the alert as set (with its id, to cancel it) or not set. */
  function showAlert(notify, alertId) {
    if (alertId) notify.dataset.alert = String(alertId);
    else delete notify.dataset.alert;
    notify.querySelector("[data-notify-me]").hidden = Boolean(alertId);
    notify.querySelector("[data-notify-set]").hidden = !alertId;
  }

  async function notifyMe(notify) {
    const id = Number(notify.dataset.item);
    const message = notify.querySelector("[data-notify-message]");
    say(message, "info");
    try {
      const answer = await post(`/api/items/${id}/alerts`);
      if (answer.status === 201) {
        showAlert(notify, answer.body.id);
        notify.querySelector("[data-notify-cancel]").focus();
      } else if (answer.body.error === "in_stock") {
        say(message, "info", `${itemName(id)} is in stock: ${answer.body.available} available now.`);
      } else if (answer.status === 404) {
        say(message, "error", `${itemName(id)} is no longer for sale.`);
      } else {
        commonError(message, answer, "be notified");
      }
    } catch {
      say(message, "error", "Could not reach the shop. Please try again.");
    }
  }

  async function cancelAlert(notify) {
    const message = notify.querySelector("[data-notify-message]");
    say(message, "info");
    try {
      const answer = await send("DELETE", `/api/alerts/${Number(notify.dataset.alert)}`);
      // 404: it fired or was cancelled in another tab; either way nothing waits now.
      if (answer.status === 204 || answer.status === 404) {
        showAlert(notify, null);
        notify.querySelector("[data-notify-me]").focus();
      } else {
        commonError(message, answer, "cancel");
      }
    } catch {
      say(message, "error", "Could not reach the shop. Please try again.");
    }
  }

  // -- Restock (staff) ------------------------------------------------------------------------

  async function restock(form) {
    const id = Number(form.dataset.item);
    const message = form.querySelector("[data-restock-message]");
    const button = form.querySelector("[data-restock-item]");
    const quantity = quantityOf(form, message);
    if (quantity === null) return;
    button.disabled = true;
    try {
      const answer = await post(`/api/items/${id}/restock`, { quantity });
      if (answer.status === 200) {
        const item = answer.body;
        if (window.Stockwire) window.Stockwire.apply(stockOf(item));
        say(message, "success", `Added ${quantity}; ${item.quantity} in stock.`);
      } else if (answer.body.error === "permission_denied") {
        say(message, "error", "Only staff can restock.");
      } else {
        commonError(message, answer, "restock");
      }
    } catch {
      say(message, "error", "Could not reach the shop. Check the level shown before trying again.");
    } finally {
      button.disabled = false;
    }
  }

  /** A reload, or a page opened later, finds the shopper's holds still running: each shows on
   * its item's form again, counting down by the shop's clock, with Confirm and Cancel. */
  async function resumeHolds() {
    if (!document.querySelector("[data-buy-form]")) return;
    try {
      const answer = await send("GET", "/api/holds");
      if (answer.status !== 200) return; // a visitor: no holds
      for (const hold of answer.body.results) {
        const deadline = performance.now() + timeLeft(hold, answer.response);
        for (const form of document.querySelectorAll(`[data-buy-form][data-item="${Number(hold.item)}"]`)) {
          if (stepOf(form) === "choose" && !holds.has(form)) startCountdown(form, hold, deadline);
        }
      }
    } catch {
      // The shop is out of reach: a hold not shown runs out by itself, as after any failure.
    }
  }

  // -- Wiring ---------------------------------------------------------------------------------

  resumeHolds();

  document.addEventListener("submit", (event) => {
    const buyForm = event.target.closest("[data-buy-form]");
    const restockForm = event.target.closest("[data-restock-form]");
    if (!buyForm && !restockForm) return;
    event.preventDefault();
    if (buyForm && stepOf(buyForm) === "choose" && !holds.has(buyForm)) placeHold(buyForm);
    if (restockForm) restock(restockForm);
  });

  document.addEventListener("click", (event) => {
    const notify = event.target.closest("[data-notify]");
    if (notify && event.target.closest("[data-notify-me]")) notifyMe(notify);
    if (notify && event.target.closest("[data-notify-cancel]")) cancelAlert(notify);
    const form = event.target.closest("[data-buy-form]");
    if (!form) return;
    if (event.target.closest("[data-confirm-yes]")) confirmPurchase(form);
    if (event.target.closest("[data-confirm-no]")) cancelHold(form);
    if (event.target.closest("[data-buy-again]")) placeHold(form);
  });

  // Escape backs out of a hold, as it closes any dialog.
  document.addEventListener("keydown", (event) => {
    const form = event.key === "Escape" && event.target.closest && event.target.closest("[data-buy-form]");
    if (form && stepOf(form) === "held") cancelHold(form);
  });

  document.addEventListener("stockwire:stock", ({ detail }) => {
    const id = Number(detail.item);
    for (const card of document.querySelectorAll(`[data-item-card="${id}"]`)) renderAvailability(card, detail.quantity);
    renderLowStock(id, detail.quantity);
    for (const el of document.querySelectorAll(`[data-stock-item="${id}"]`)) highlight(el);
  });

  // The shop's own message to its buyer (shop.services.order_message), in every open tab.
  document.addEventListener("stockwire:message", ({ detail: { type, order } }) => {
    if (type !== "order") return;
    toast(`Order #${order.id} confirmed: ${order.quantity} × ${order.item_name}`, "/orders/");
  });

  // A sold-out item this shopper waits for is back (stockwire.alert), in every open tab; the
  // alert is done, so "Notify me" starts afresh.
  document.addEventListener("stockwire:back_in_stock", ({ detail: { item, available, waiting } }) => {
    const id = Number(item);
    for (const notify of document.querySelectorAll(`[data-notify][data-item="${id}"]`)) showAlert(notify, null);
    const rush = waiting > available ? ` ${waiting} people were waiting: be quick.` : "";
    toast(`${itemName(id)} is back in stock: ${available} available.${rush}`, `/items/${id}/`);
  });
})();
