// Behaviour that templates ask for with data-* attributes, so that no page needs an inline
// script or on* handler (the Content-Security-Policy allows scripts from our files only).
(function () {
  "use strict";
  // <select data-autosubmit>, <input data-autosubmit>: submit the form on change.
  document.addEventListener("change", function (event) {
    const field = event.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit();
  });
  // <form data-confirm="Question?">: ask before submitting.
  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);
  // <a data-history-back href="/">: go back when there is somewhere to go back to.
  document.addEventListener("click", function (event) {
    const link = event.target.closest("a[data-history-back]");
    if (link && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
})();
