// RoB 2 pages: copy an assessor's support text into the consensus, keep focus sane after swaps.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-rob-copy]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-rob-copy"));
    if (!field) return;
    var text = button.getAttribute("data-text") || "";
    field.value = field.value && button.hasAttribute("data-append") ? field.value + "\n" + text : text;
    field.dispatchEvent(new Event("change", { bubbles: true }));
    field.focus();
  });
  // After an answer re-renders a domain card, move focus to its next open question so that
  // keyboard users can keep answering without hunting for it.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var card = event.detail.target;
    if (!card || !card.classList || !card.classList.contains("rob-domain")) return;
    var next = card.querySelector(".rob-q-next input[type=radio]");
    if (next && card.contains(document.activeElement) === false) next.focus({ preventScroll: true });
  });
})();
