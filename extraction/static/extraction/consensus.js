// Consensus page: "Use" copies one extractor's value into the agreed-value input of its row.
(function () {
  "use strict";
  function setValue(row, value) {
    var inputs = row.querySelectorAll("[name='" + CSS.escape(row.dataset.key) + "']");
    inputs.forEach(function (input) {
      if (input.type === "checkbox") {
        input.checked = Array.isArray(value) && value.indexOf(input.value) !== -1;
      } else {
        input.value = value === null || value === undefined ? "" : String(value);
      }
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    row.classList.add("diff-resolved");
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.pick");
    if (!button) return;
    var row = button.closest("tr");
    var values = JSON.parse(row.querySelector("script.pick-values").textContent);
    setValue(row, values[Number(button.dataset.index)]);
    row.querySelectorAll("button.pick").forEach(function (b) {
      b.classList.toggle("active", b === button);
    });
  });
  document.addEventListener("input", function (event) {
    var row = event.target.closest("tr[data-differ]");
    if (row) row.classList.add("diff-resolved");
  });
})();
