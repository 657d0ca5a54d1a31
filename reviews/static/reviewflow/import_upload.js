// Upload an export with a progress bar; the server then reads the whole file before answering.
(function () {
  "use strict";
  const form = document.getElementById("import-form");
  if (!form) return;
  form.addEventListener("submit", function (event) {
    if (!window.XMLHttpRequest || !form.querySelector("input[type=file]").files.length) return;
    event.preventDefault();
    const bar = document.querySelector("#import-progress .progress-bar");
    document.getElementById("import-progress").classList.remove("d-none");
    document.getElementById("import-spinner").classList.remove("d-none");
    document.getElementById("import-submit").disabled = true;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.style.width = (100 * e.loaded / e.total) + "%"; };
    xhr.upload.onload = () => { bar.style.width = "100%"; document.getElementById("import-reading").classList.remove("d-none"); };
    xhr.onload = () => {
      if (xhr.responseURL && xhr.responseURL !== window.location.href) { window.location = xhr.responseURL; return; }
      document.open(); document.write(xhr.responseText); document.close();
    };
    xhr.send(new FormData(form));
  });
})();
