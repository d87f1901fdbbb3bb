// The ▲ buttons (web/templates/_cards.html): send the vote form in the background and update the
// count in place. Without this script the same form posts and the page comes back (web.voting).
"use strict";

(function () {
  function update(form, state) {
    var button = form.querySelector(".vote-button");
    var value = form.querySelector('input[name="value"]');
    var tip = state.upvotes_imported + " on Hugging Face + " + state.upvotes_local + " here";
    button.querySelector("strong").textContent = String(state.upvotes);
    button.setAttribute("aria-pressed", state.voted ? "true" : "false");
    button.setAttribute("title", tip);
    button.setAttribute(
      "aria-label",
      (state.voted ? "Remove your upvote" : "Upvote") + " (" + state.upvotes + " upvotes: " + tip + ")"
    );
    // The next press does the opposite: "0" takes the upvote back, "1" gives it.
    value.value = state.voted ? "0" : "1";
    var around = form.closest("article, li") || document;
    var fields = { ".vote-total": state.upvotes, ".vote-local": state.upvotes_local,
                   ".vote-imported": state.upvotes_imported };
    Object.keys(fields).forEach(function (selector) {
      var node = around.querySelector(selector);
      if (node) { node.textContent = String(fields[selector]); }
    });
  }

  function send(event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-vote]") || !window.fetch) { return; }
    event.preventDefault();
    var button = form.querySelector(".vote-button");
    if (button.disabled) { return; }
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      if (response.status === 401 || response.status === 403) {
        // Signed out (the sign-in page applies the vote), or not allowed (the page says why).
        form.submit();
        return null;
      }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (state) {
      if (state) { update(form, state); }
    }).catch(function () {
      form.submit();
    }).finally(function () {
      button.disabled = false;
    });
  }

  document.addEventListener("submit", send);
})();
