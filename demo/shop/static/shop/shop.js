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
    // Errors are JSON; a proxy's HTML error page is not, so be lenient.
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

  // -- Buy: choose a quantity, confirm, then the answer ---------------------------------------

  function formatPrice(price, quantity) {
    const cents = Math.round(Number(price) * 100) * quantity;
    return (cents / 100).toFixed(2);
  }

  function showStep(form, confirming) {
    form.querySelector("[data-buy-choose]").hidden = confirming;
    form.querySelector("[data-buy-confirm]").hidden = !confirming;
    form.querySelector(confirming ? "[data-confirm-yes]" : "[name=quantity]").focus();
  }

  function askToConfirm(form) {
    const message = form.querySelector("[data-buy-message]");
    const quantity = quantityOf(form, message);
    if (quantity === null) return;
    say(message, "info");
    form.dataset.quantity = String(quantity);
    // One key per confirmed purchase: a retry after a network failure cannot buy twice.
    form.dataset.key = newKey();
    const name = itemName(form.dataset.item);
    form.querySelector("[data-confirm-text]").textContent =
      `Buy ${quantity} × ${name} for ${formatPrice(form.dataset.price, quantity)}?`;
    showStep(form, true);
  }

  async function confirmPurchase(form) {
    const id = Number(form.dataset.item);
    const quantity = Number(form.dataset.quantity);
    const message = form.querySelector("[data-buy-message]");
    const button = form.querySelector("[data-buy-item]");
    const confirm = form.querySelector("[data-confirm-yes]");
    confirm.disabled = true;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    let retryable = false;
    try {
      const answer = await post(`/api/items/${id}/purchase`, { quantity }, { "Idempotency-Key": form.dataset.key });
      const { status, body } = answer;
      if (status === 201) {
        // Same version check as the socket's: the buyer sees the new number at once, and
        // whichever of the two arrives second is dropped.
        if (body.item && window.Stockwire) {
          window.Stockwire.apply(stockOf(body.item));
        }
        say(message, "success", `Bought ${body.order.quantity} × ${body.order.item_name}. Order #${body.order.id} is confirmed.`);
      } else if (body.error === "insufficient_stock") {
        const left = Number(body.available);
        say(message, "error", left > 0
          ? `Only ${left} left of ${itemName(id)}. Lower the quantity and try again.`
          : `Sorry, ${itemName(id)} just sold out.`);
      } else if (status === 404) {
        say(message, "error", `${itemName(id)} is no longer for sale.`);
      } else {
        commonError(message, answer, "buy");
      }
    } catch {
      // The request may or may not have reached the shop; the same key makes a retry safe.
      retryable = true;
      say(message, "error", "Could not reach the shop. Confirm again to retry: you will not be charged twice.");
    } finally {
      confirm.disabled = false;
      button.removeAttribute("aria-busy");
      renderAvailability(form.closest("[data-item-card]"), shownQuantity(id));
    }
    if (!retryable) showStep(form, false);
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

  // -- Wiring ---------------------------------------------------------------------------------

  document.addEventListener("submit", (event) => {
    const buyForm = event.target.closest("[data-buy-form]");
    const restockForm = event.target.closest("[data-restock-form]");
    if (!buyForm && !restockForm) return;
    event.preventDefault();
    if (buyForm && buyForm.querySelector("[data-buy-confirm]").hidden) askToConfirm(buyForm);
    if (restockForm) restock(restockForm);
  });

  document.addEventListener("click", (event) => {
    const notify = event.target.closest("[data-notify]");
    if (notify && event.target.closest("[data-notify-me]")) notifyMe(notify);
    if (notify && event.target.closest("[data-notify-cancel]")) cancelAlert(notify);
    const form = event.target.closest("[data-buy-form]");
    if (!form) return;
    if (event.target.closest("[data-confirm-yes]")) confirmPurchase(form);
    if (event.target.closest("[data-confirm-no]")) showStep(form, false);
  });

  // Escape backs out of a confirmation, as it closes any dialog.
  document.addEventListener("keydown", (event) => {
    const form = event.key === "Escape" && event.target.closest && event.target.closest("[data-buy-form]");
    if (form && !form.querySelector("[data-buy-confirm]").hidden) showStep(form, false);
  });

  document.addEventListener("stockwire:stock", ({ detail }) => {
    const id = Number(detail.item);
    for (const card of document.querySelectorAll(`[data-item-card="${id}"]`)) renderAvailability(card, detail.quantity);
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
