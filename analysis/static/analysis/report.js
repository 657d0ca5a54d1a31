// Report page: copy the methods paragraph; switch the forest plot between subgroup views.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const text = document.querySelector(button.dataset.copyTarget).innerText;
  navigator.clipboard.writeText(text).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});
document.addEventListener("change", (event) => {
  const select = event.target.closest("[data-forest-select]");
  if (!select) return;
  const img = document.querySelector(select.dataset.forestSelect);
  const url = new URL(img.src, window.location.href);
  if (select.value) url.searchParams.set("subgroup", select.value);
  else url.searchParams.delete("subgroup");
  img.src = url.toString();
  document.querySelectorAll("[data-forest-download]").forEach((a) => {
    const durl = new URL(a.href, window.location.href);
    if (select.value) durl.searchParams.set("subgroup", select.value);
    else durl.searchParams.delete("subgroup");
    a.href = durl.toString();
  });
  // PNG/PDF downloads are prepared by a job: it draws the plot of the chosen subgroup.
  document.querySelectorAll("[data-forest-subgroup]").forEach((input) => { input.value = select.value; });
});
