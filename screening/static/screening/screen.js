/* Keyboard shortcuts of the screening page. The keymap (action -> keys) comes from the
   server (json_script), so per-user remapping needs no change here. Handlers sit on the
   document, so they keep working after htmx swaps in the next record. */
(function () {
  "use strict";
  var keymapEl = document.getElementById("screening-keymap");
  if (!keymapEl) return;
  var keymap = JSON.parse(keymapEl.textContent);
  var actionFor = {};
  Object.keys(keymap).forEach(function (action) {
    keymap[action].forEach(function (key) { actionFor[key] = action; });
  });

  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function normalise(event) {
    return event.key.length === 1 ? event.key.toLowerCase() : event.key;
  }

  function panel() { return document.getElementById("screen-panel"); }

  function flash(message) {
    var form = document.getElementById("vote-form");
    if (!form) return;
    var box = document.getElementById("screen-error");
    if (!box) {
      box = document.createElement("div");
      box.id = "screen-error";
      box.className = "alert alert-danger py-2 small";
      box.setAttribute("role", "alert");
      form.parentNode.insertBefore(box, form);
    }
    box.textContent = message;
  }

  // Requests go through htmx.ajax rather than element.click(): a freshly swapped-in
  // element may not have been processed by htmx yet, and a click on it would be lost.
  var busy = false;
  var swapTo = { target: "#screen-panel", swap: "outerHTML" };
  document.body.addEventListener("htmx:beforeRequest", function () { busy = true; });
  document.body.addEventListener("htmx:afterRequest", function () { busy = false; });

  function send(el) {
    if (el.form && el.name === "decision") {
      var form = el.form;
      htmx.ajax("POST", form.getAttribute("hx-post"), Object.assign({ source: form, values: { decision: el.value } }, swapTo));
    } else if (el.hasAttribute("hx-post")) {
      htmx.ajax("POST", el.getAttribute("hx-post"), swapTo);
    } else {
      htmx.ajax("GET", el.getAttribute("hx-get") || el.getAttribute("href"), swapTo);
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (typing(event.target)) return;
    var action = actionFor[normalise(event)];
    if (!action || !panel() || busy) return;
    var button = panel().querySelector('[data-action="' + action + '"]');
    if (!button || button.disabled) return;
    event.preventDefault();
    if (action === "exclude") {
      var reason = document.getElementById("vote-reason");
      if (reason && reason.dataset.requiredForExclude && !reason.value) {
        flash("Choose a full-text exclusion reason first, then press the key again.");
        reason.focus();
        return;
      }
    }
    send(button);
  });

  // Keep the keyboard on the page after a swap, and bring the new record into view.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "screen-panel") {
      if (document.activeElement && document.activeElement !== document.body) {
        document.activeElement.blur();
      }
      window.scrollTo({ top: 0 });
    }
  });
})();
