/* opaudit report: filter, sort and inspect the node table. Plain DOM, no framework.
   Model-derived text is only ever inserted with textContent. */
(function () {
  "use strict";
  var data = {};
  var dataEl = document.getElementById("opaudit-data");
  try { data = JSON.parse(dataEl ? dataEl.textContent : "{}") || {}; } catch (e) { data = {}; }

  var table = document.getElementById("node-table");
  if (!table) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var haystack = rows.map(function (r) { return r.textContent.toLowerCase(); });
  var countEl = document.getElementById("node-count");
  var controls = {
    text: document.getElementById("f-text"), op: document.getElementById("f-op"),
    kind: document.getElementById("f-kind"), layer: document.getElementById("f-layer"),
    status: document.getElementById("f-status")
  };

  function applyFilter() {
    var q = controls.text.value.trim().toLowerCase();
    var want = { op: controls.op.value, kind: controls.kind.value, layer: controls.layer.value, status: controls.status.value };
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i], d = r.dataset;
      var ok = (!q || haystack[i].indexOf(q) !== -1) &&
        (!want.op || d.op === want.op) && (!want.kind || d.kind === want.kind) &&
        (!want.layer || d.layer === want.layer) && (!want.status || d.status === want.status);
      if (r.hidden === ok) { r.hidden = !ok; }
      if (ok) { shown++; }
    }
    countEl.textContent = shown + " / " + rows.length;
  }
  var timer = null;
  controls.text.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(applyFilter, rows.length > 2000 ? 120 : 30);
  });
  ["op", "kind", "layer", "status"].forEach(function (k) { controls[k].addEventListener("change", applyFilter); });

  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  heads.forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var numeric = th.dataset.sort === "num";
      var keyed = rows.map(function (r, i) {
        var c = r.cells[col];
        var k = numeric ? parseFloat(c.dataset.v || c.textContent) : c.textContent.trim().toLowerCase();
        return [k, i, r];
      });
      keyed.sort(function (a, b) {
        var d = a[0] < b[0] ? -1 : (a[0] > b[0] ? 1 : a[1] - b[1]);
        return asc ? d : -d;
      });
      var frag = document.createDocumentFragment();
      keyed.forEach(function (k) { frag.appendChild(k[2]); });
      tbody.appendChild(frag);
    });
  });

  var panel = document.getElementById("details");
  var selected = null;
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function tensorTable(title, list) {
    var wrap = document.createDocumentFragment();
    wrap.appendChild(el("b", title));
    var t = el("table");
    (list || []).forEach(function (x) {
      var tr = el("tr");
      tr.appendChild(el("td", "#" + x[0], "mono"));
      tr.appendChild(el("td", x[1] || "(no name)"));
      tr.appendChild(el("td", x[2], "mono"));
      t.appendChild(tr);
    });
    wrap.appendChild(t);
    return wrap;
  }
  function showDetails(row) {
    var key = row.dataset.key, n = (data.nodes || {})[key];
    if (!n || !panel) { return; }
    if (selected) { selected.classList.remove("sel"); }
    selected = row; row.classList.add("sel");
    panel.textContent = "";
    var close = el("button", "\u00d7", "close");
    close.type = "button"; close.setAttribute("aria-label", "Close");
    close.addEventListener("click", function () { panel.hidden = true; row.classList.remove("sel"); });
    panel.appendChild(close);
    panel.appendChild(el("h3", "node " + key + " \u00b7 " + n.op));
    var facts = [["TF op", n.tf_op], ["Keras layer", n.layer ? n.layer + " (" + (n.layer_source || "?") + ")" : null],
      ["TF name", n.tf_name], ["Node name", n.node], ["Version", n.version]];
    var dl = el("table");
    facts.forEach(function (f) {
      if (f[1] === null || f[1] === undefined || f[1] === "") { return; }
      var tr = el("tr"); tr.appendChild(el("td", f[0], "muted")); tr.appendChild(el("td", f[1])); dl.appendChild(tr);
    });
    panel.appendChild(dl);
    panel.appendChild(tensorTable("Inputs", n["in"]));
    panel.appendChild(tensorTable("Outputs", n.out));
    if (n.findings && n.findings.length) {
      panel.appendChild(el("b", "Findings"));
      var ul = el("ul");
      n.findings.forEach(function (f) { var li = el("li"); li.appendChild(el("span", f[0], "code")); li.appendChild(document.createTextNode(" " + f[1])); ul.appendChild(li); });
      panel.appendChild(ul);
    }
    panel.hidden = false;
  }
  tbody.addEventListener("click", function (ev) {
    var tr = ev.target.closest ? ev.target.closest("tr") : null;
    if (tr && tr.parentNode === tbody) { showDetails(tr); }
  });
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape" && panel) { panel.hidden = true; } });

  var dl = document.getElementById("dl-overlay");
  if (dl) {
    dl.addEventListener("click", function () {
      var blob = new Blob([JSON.stringify(data.overlay || {}, null, 1)], { type: "application/json" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "model_explorer_overlay." + String(data.sha256 || "model").slice(0, 12) + ".json";
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
    });
  }
}());
