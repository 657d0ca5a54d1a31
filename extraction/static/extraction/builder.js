// Extraction form builder: edits the template JSON held in the form's textarea.
// The server validates every save (schema.validate_template); this only makes editing pleasant.
(function () {
  "use strict";
  var textarea = document.getElementById("id_schema");
  var root = document.getElementById("builder");
  if (!textarea || !root) return;
  var TYPES = JSON.parse(document.getElementById("field-types").textContent);
  var CHOICE = ["single_choice", "multiple_choice"];
  var NUMERIC = ["number", "integer"];
  var schema;
  try { schema = JSON.parse(textarea.value); } catch (e) { schema = { sections: [] }; }
  if (!schema || !Array.isArray(schema.sections)) schema = { sections: [] };

  function slug(text) {
    return (text || "").toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "_")
      .replace(/^_+|_+$/g, "").replace(/^([0-9])/, "f_$1").slice(0, 50) || "field";
  }
  function uniqueKey(base, self) {
    var keys = {};
    schema.sections.forEach(function (s) { s.fields.forEach(function (f) { if (f !== self) keys[f.key] = true; }); });
    var key = base, n = 2;
    while (keys[key]) { key = base.slice(0, 46) + "_" + n++; }
    return key;
  }
  function save() { textarea.value = JSON.stringify(schema, null, 2); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== false && attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function move(list, i, delta) {
    var j = i + delta;
    if (j < 0 || j >= list.length) return;
    var item = list.splice(i, 1)[0];
    list.splice(j, 0, item);
    render();
  }
  function iconButton(label, title, handler, extra) {
    return el("button", { type: "button", class: "btn btn-sm btn-link text-decoration-none " + (extra || ""), title: title, "aria-label": title, onclick: handler, text: label });
  }

  function fieldEditor(section, field, index) {
    var isNew = !field.key;
    if (isNew) field.key = uniqueKey(slug(field.label), field);
    var typeSelect = el("select", { class: "form-select form-select-sm", "aria-label": "Field type", onchange: function () {
      field.type = this.value;
      if (CHOICE.indexOf(field.type) !== -1 && !field.choices) field.choices = ["Option 1", "Option 2"];
      if (CHOICE.indexOf(field.type) === -1) delete field.choices;
      if (NUMERIC.indexOf(field.type) === -1) { delete field.min; delete field.max; }
      render();
    } }, TYPES.map(function (t) { return el("option", { value: t[0], selected: t[0] === field.type, text: t[1] }); }));
    var keyInput = el("input", { class: "form-control form-control-sm font-monospace", value: field.key, "aria-label": "Field key", title: "Stable identifier: keep it when you rename a field so earlier answers stay linked", oninput: function () { field.key = this.value.trim(); field._keyEdited = true; save(); } });
    var labelInput = el("input", { class: "form-control form-control-sm fw-semibold", value: field.label || "", placeholder: "Field label", "aria-label": "Field label", oninput: function () {
      field.label = this.value;
      if (field._fresh && !field._keyEdited) { field.key = uniqueKey(slug(this.value), field); keyInput.value = field.key; }
      save();
    } });
    var row = el("div", { class: "builder-field" }, [
      el("div", { class: "row g-2 align-items-center" }, [
        el("div", { class: "col-md-5" }, [labelInput]),
        el("div", { class: "col-md-3" }, [typeSelect]),
        el("div", { class: "col-md-2" }, [el("div", { class: "form-check small mb-0" }, [
          el("input", { class: "form-check-input", type: "checkbox", id: "req-" + field.key, checked: !!field.required, onchange: function () { field.required = this.checked; save(); } }),
          el("label", { class: "form-check-label", for: "req-" + field.key, text: "Required" })])]),
        el("div", { class: "col-md-2 text-end text-nowrap" }, [
          iconButton("↑", "Move field up", function () { move(section.fields, index, -1); }),
          iconButton("↓", "Move field down", function () { move(section.fields, index, 1); }),
          iconButton("✕", "Remove field", function () { section.fields.splice(index, 1); render(); }, "text-danger")]),
      ]),
      el("div", { class: "row g-2 mt-1" }, [
        el("div", { class: "col-md-8" }, [el("input", { class: "form-control form-control-sm", value: field.help || "", placeholder: "Help text (optional)", "aria-label": "Help text", oninput: function () { field.help = this.value; save(); } })]),
        el("div", { class: "col-md-4" }, [keyInput]),
      ]),
    ]);
    if (CHOICE.indexOf(field.type) !== -1) {
      row.appendChild(el("textarea", { class: "form-control form-control-sm mt-2", rows: Math.max(3, (field.choices || []).length), "aria-label": "Choices, one per line", placeholder: "One choice per line", oninput: function () {
        field.choices = this.value.split("\n").map(function (c) { return c.trim(); }).filter(Boolean); save();
      } }, [document.createTextNode((field.choices || []).join("\n"))]));
    }
    if (NUMERIC.indexOf(field.type) !== -1) {
      row.appendChild(el("div", { class: "row g-2 mt-1" }, ["min", "max"].map(function (bound) {
        return el("div", { class: "col-3" }, [el("input", { class: "form-control form-control-sm", value: field[bound] === undefined || field[bound] === null ? "" : field[bound], placeholder: bound === "min" ? "Minimum" : "Maximum", "aria-label": bound, oninput: function () {
          if (this.value.trim() === "") delete field[bound]; else field[bound] = this.value.trim(); save();
        } })]);
      })));
    }
    return row;
  }

  function render() {
    root.innerHTML = "";
    schema.sections.forEach(function (section, sIndex) {
      var card = el("div", { class: "builder-section shadow-sm" }, [
        el("div", { class: "d-flex align-items-center gap-2 p-2 bg-body-tertiary rounded-top" }, [
          el("input", { class: "form-control form-control-sm fw-semibold", value: section.title || "", placeholder: "Section title", "aria-label": "Section title", oninput: function () { section.title = this.value; save(); } }),
          iconButton("↑", "Move section up", function () { move(schema.sections, sIndex, -1); }),
          iconButton("↓", "Move section down", function () { move(schema.sections, sIndex, 1); }),
          iconButton("✕", "Remove section", function () { if (!section.fields.length || confirm("Remove the section “" + section.title + "” and its fields?")) { schema.sections.splice(sIndex, 1); render(); } }, "text-danger"),
        ]),
      ]);
      section.fields.forEach(function (field, fIndex) { card.appendChild(fieldEditor(section, field, fIndex)); });
      card.appendChild(el("div", { class: "p-2" }, [el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", text: "Add field", onclick: function () {
        section.fields.push({ key: "", label: "New field", type: "text", help: "", required: false, _fresh: true });
        render();
      } })]));
      root.appendChild(card);
    });
    save();
  }

  document.getElementById("add-section").addEventListener("click", function () {
    schema.sections.push({ title: "New section", fields: [] });
    render();
  });
  textarea.addEventListener("change", function () {
    try { schema = JSON.parse(textarea.value); render(); } catch (e) { /* the server reports invalid JSON */ }
  });
  document.getElementById("builder-form").addEventListener("submit", function () {
    // Builder-only flags are not part of the template.
    schema.sections.forEach(function (s) { s.fields.forEach(function (f) { delete f._fresh; delete f._keyEdited; }); });
    save();
  });
  render();
})();
