/* Catalog page glue: Buy forms, the purchase message and order toasts.
 *
 * Live numbers are stockwire.js's job; this file only reacts to its DOM events, so the page
 * behaves the same whether a change came from this tab, another tab or another shopper.
 */
(() => {
  "use strict";

  const TOAST_MS = 5000;
  const message = document.querySelector("[data-message]");
  const toasts = document.querySelector("[data-toasts]");

  function csrfToken() {
    const cookie = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (cookie) return decodeURIComponent(cookie[1]);
    // With CSRF_COOKIE_HTTPONLY the cookie is unreadable; the page's {% csrf_token %} still works.
    const field = document.querySelector("[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  /** Replace the message with `parts` (strings or nodes); `kind` is success, error or info. */
  function say(kind, ...parts) {
    if (!message) return;
    message.dataset.kind = kind;
    message.replaceChildren(...parts);
  }

  function sayLoggedOut() {
    const link = document.createElement("a");
    link.href = (message && message.dataset.loginUrl) || "/login/";
    link.textContent = "Log in";
    say("error", "You are logged out. ", link, " to buy.");
  }

  function toast(text) {
    if (!toasts) return;
    const el = document.createElement("div");
    el.className = "toast";
    el.textContent = text;
    toasts.append(el);
    setTimeout(() => el.remove(), TOAST_MS);
  }

  /** The quantity the card shows now: the live number, whoever last changed it. */
  const shownQuantity = (card) => Number(card.querySelector("[data-stock-item]").textContent);

  function renderAvailability(card, quantity) {
    const soldOut = quantity <= 0;
    card.classList.toggle("is-sold-out", soldOut);
    const badge = card.querySelector("[data-sold-out]");
    if (badge) badge.hidden = !soldOut;
    const button = card.querySelector("[data-buy-item]");
    // A purchase in flight keeps its button disabled until its answer is in.
    if (button && !button.hasAttribute("aria-busy")) button.disabled = soldOut;
  }

  function flash(el) {
    el.classList.remove("is-updated");
    void el.offsetWidth; // Force a reflow so back-to-back updates restart the animation.
    el.classList.add("is-updated");
    el.addEventListener("animationend", () => el.classList.remove("is-updated"), { once: true });
  }

  async function buy(form) {
    const button = form.querySelector("[data-buy-item]");
    const card = form.closest("[data-item-card]");
    const id = Number(button.dataset.buyItem);
    const name = card.querySelector("[data-item-name]").textContent.trim();
    const quantity = Number(form.elements.quantity.value);
    if (!Number.isInteger(quantity) || quantity < 1) {
      say("error", "Enter a whole number of at least 1.");
      form.elements.quantity.focus();
      return;
    }

    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(`/api/items/${id}/purchase`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ quantity }),
      });
      // Errors are JSON ({error, detail}); a proxy's HTML error page is not, so be lenient.
      const body = await response.json().catch(() => ({}));
      if (response.status === 201) {
        // Same version check as the socket's: the buyer sees the new number at once, and
        // whichever of the two arrives second is dropped.
        const item = body.item;
        if (item && window.Stockwire) {
          window.Stockwire.apply({ item: item.id, quantity: item.quantity, version: item.version });
        }
        say("success", `Bought ${(body.order && body.order.quantity) || quantity} × ${name}`);
      } else if (response.status === 401 || response.status === 403) {
        sayLoggedOut();
      } else {
        say("error", body.detail || `The purchase failed (HTTP ${response.status}). Please try again.`);
      }
    } catch {
      // The request may or may not have reached the server, so do not invite a blind retry.
      say("error", "Could not reach the shop. Check My orders before trying again.");
    } finally {
      button.removeAttribute("aria-busy");
      renderAvailability(card, shownQuantity(card));
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("[data-buy-form]");
    if (!form) return;
    event.preventDefault();
    buy(form);
  });

  document.addEventListener("stockwire:stock", ({ detail }) => {
    for (const card of document.querySelectorAll(`[data-item-card="${Number(detail.item)}"]`)) {
      renderAvailability(card, detail.quantity);
    }
    for (const el of document.querySelectorAll(`[data-stock-item="${Number(detail.item)}"]`)) flash(el);
  });

  document.addEventListener("stockwire:order", ({ detail }) => toast(`Order #${detail.id} confirmed`));
})();
