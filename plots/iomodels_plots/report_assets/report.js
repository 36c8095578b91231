// Sortable tables and the spectrum chooser, in plain JavaScript: the page is
// opened from file:// and loads nothing from the network.
(function () {
  function key(td) {
    var v = td.getAttribute("data-sort");
    if (v === null) v = td.textContent.trim();
    var n = parseFloat(v);
    return isNaN(n) || !/^[-+.\d]/.test(v) ? v.toLowerCase() : n;
  }
  function sortBy(table, col, th) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var asc = !th.classList.contains("sorted-asc");
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.classList.remove("sorted-asc", "sorted-desc");
    });
    th.classList.add(asc ? "sorted-asc" : "sorted-desc");
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.title = "click to sort";
      th.addEventListener("click", function () { sortBy(table, i, th); });
    });
  });
  var only = document.getElementById("only-flagged");
  if (only) only.addEventListener("change", function () {
    document.querySelectorAll("table.cases tbody tr").forEach(function (r) {
      r.style.display = only.checked && !r.classList.contains("flagged") ? "none" : "";
    });
  });
  var pick = document.getElementById("spectrum-case");
  if (pick) pick.addEventListener("change", function () {
    var o = pick.options[pick.selectedIndex];
    var img = document.getElementById("spectrum-img");
    img.src = o.getAttribute("data-src");
    img.alt = o.textContent;
    document.getElementById("spectrum-caption").textContent = o.getAttribute("data-caption");
  });
  // "#only-ID" shows the header and that one element: headless screenshots of
  // one panel or figure (Chromium draws a blank page when it must scroll to
  // a fragment before the shot).
  if (location.hash.indexOf("#only-") === 0) {
    var el = document.getElementById(decodeURIComponent(location.hash.slice(6)));
    if (el) {
      var box = document.createElement("section");
      box.appendChild(el);
      document.querySelectorAll("body > section").forEach(function (s) { s.style.display = "none"; });
      document.querySelector("header").after(box);
    }
  }
})();
