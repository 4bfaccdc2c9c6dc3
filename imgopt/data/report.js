/* imgopt report: a zoomable treemap and sortable, filterable tables. No libraries, no network.
   The page is complete without this script (tables and SVG charts are plain HTML). */
(function () {
  "use strict";
  var CATEGORY_COLORS = {};
  var PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7",
                 "#9c755f", "#bab0ac", "#86bcb6", "#d37295", "#a0cbe8", "#8cd17d", "#f1ce63"];
  var NONE = "#c9d3df";

  function human(n) {
    var units = ["B", "kB", "MB", "GB", "TB"], i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
  }

  function color(cat) {
    if (!cat) { return NONE; }
    if (!(cat in CATEGORY_COLORS)) {
      CATEGORY_COLORS[cat] = PALETTE[Object.keys(CATEGORY_COLORS).length % PALETTE.length];
    }
    return CATEGORY_COLORS[cat];
  }

  /* squarified treemap (Bruls, Huizing, van Wijk) of sizes into the rectangle x, y, w, h */
  function squarify(items, x, y, w, h) {
    var out = [], total = 0, i;
    for (i = 0; i < items.length; i++) { total += items[i].size; }
    if (total <= 0 || w <= 0 || h <= 0) { return out; }
    var scale = (w * h) / total, rest = items.slice(), row = [];
    function worst(r, side) {
      var s = 0, mx = 0, mn = Infinity, k;
      for (k = 0; k < r.length; k++) { var a = r[k].size * scale; s += a; mx = Math.max(mx, a); mn = Math.min(mn, a); }
      return Math.max((side * side * mx) / (s * s), (s * s) / (side * side * mn));
    }
    function layout(r) {
      var s = 0, k;
      for (k = 0; k < r.length; k++) { s += r[k].size * scale; }
      if (w >= h) {
        var cw = s / h, cy = y;
        for (k = 0; k < r.length; k++) { var ch = r[k].size * scale / cw; out.push([r[k], x, cy, cw, ch]); cy += ch; }
        x += cw; w -= cw;
      } else {
        var rh = s / w, cx = x;
        for (k = 0; k < r.length; k++) { var rw = r[k].size * scale / rh; out.push([r[k], cx, y, rw, rh]); cx += rw; }
        y += rh; h -= rh;
      }
    }
    while (rest.length) {
      var side = Math.min(w, h), next = rest[0];
      if (row.length === 0 || worst(row.concat([next]), side) <= worst(row, side)) { row.push(rest.shift()); }
      else { layout(row); row = []; }
    }
    if (row.length) { layout(row); }
    return out;
  }

  function node(a) {
    return {name: a[0], size: a[1], files: a[2], reclaimable: a[3], category: a[4], children: a[5], raw: a};
  }

  function Treemap(root, data) {
    this.root = root;
    this.box = root.querySelector(".tm-box");
    this.crumbs = root.querySelector(".tm-crumbs");
    this.stack = [node(data)];
    this.paths = ["/"];
    var self = this;
    window.addEventListener("resize", function () { self.draw(); });
    this.draw();
  }

  Treemap.prototype.zoom = function (child, path) {
    this.stack.push(child); this.paths.push(path); this.draw();
  };

  Treemap.prototype.up = function (depth) {
    this.stack.length = depth + 1; this.paths.length = depth + 1; this.draw();
  };

  Treemap.prototype.draw = function () {
    var self = this, cur = this.stack[this.stack.length - 1], here = this.paths[this.paths.length - 1];
    this.crumbs.textContent = "";
    this.paths.forEach(function (p, i) {
      var a = document.createElement("a");
      a.href = "#"; a.className = "tm-crumb"; a.textContent = i === 0 ? "/" : p.split("/").pop();
      a.setAttribute("data-depth", String(i));
      a.addEventListener("click", function (e) { e.preventDefault(); self.up(i); });
      self.crumbs.appendChild(a);
    });
    var info = document.createElement("span");
    info.className = "tm-info";
    info.textContent = human(cur.size) + " in " + cur.files.toLocaleString() + " entries" +
      (cur.reclaimable ? " · " + human(cur.reclaimable) + " reclaimable shipped under here" : "");
    this.crumbs.appendChild(info);
    this.box.textContent = "";
    var W = this.box.clientWidth || 960, H = this.box.clientHeight || 480;
    var kids = cur.children.map(node).filter(function (c) { return c.size > 0; });
    squarify(kids, 0, 0, W, H).forEach(function (r) {
      var c = r[0], div = document.createElement("div");
      var path = (here === "/" ? "" : here) + "/" + c.name;
      div.className = "tm-node" + (c.children.length ? " tm-dir" : "") + (c.reclaimable ? " tm-waste" : "");
      div.style.left = r[1] + "px"; div.style.top = r[2] + "px";
      div.style.width = Math.max(0, r[3] - 1) + "px"; div.style.height = Math.max(0, r[4] - 1) + "px";
      div.style.background = color(c.category);
      div.setAttribute("data-path", path);
      div.title = path + "\n" + human(c.size) + " in " + c.files.toLocaleString() + " entries" +
        (c.category ? "\ncategory: " + c.category : "") +
        (c.reclaimable ? "\n" + human(c.reclaimable) + " reclaimable shipped under here" : "");
      if (r[3] > 40 && r[4] > 14) {
        var label = document.createElement("span");
        label.textContent = c.name + " " + human(c.size);
        div.appendChild(label);
      }
      if (c.children.length) {
        div.addEventListener("click", function () { self.zoom(c, path); });
      }
      self.box.appendChild(div);
    });
    var legend = this.root.querySelector(".tm-legend");
    if (legend) {
      legend.textContent = "";
      var seen = {};
      (function walk(n) { if (n[4]) { seen[n[4]] = 1; } n[5].forEach(walk); })(self.stack[0].raw);
      Object.keys(CATEGORY_COLORS).filter(function (c) { return seen[c]; }).concat([""]).forEach(function (cat) {
        var item = document.createElement("span"), sw = document.createElement("i");
        sw.style.background = cat ? CATEGORY_COLORS[cat] : NONE;
        item.appendChild(sw);
        item.appendChild(document.createTextNode(cat || "no waste category"));
        legend.appendChild(item);
      });
      var w = document.createElement("span"), ws = document.createElement("i");
      ws.className = "tm-waste-swatch"; w.appendChild(ws);
      w.appendChild(document.createTextNode("reclaimable bytes shipped under it"));
      legend.appendChild(w);
    }
  };

  function sortable(table) {
    var heads = table.querySelectorAll("th");
    heads.forEach(function (th, col) {
      th.classList.add("sortable");
      th.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var desc = th.getAttribute("aria-sort") !== "descending";
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", desc ? "descending" : "ascending");
        rows.sort(function (a, b) {
          var x = a.cells[col].getAttribute("data-sort"), y = b.cells[col].getAttribute("data-sort");
          var r = (x !== null && y !== null) ? (parseFloat(x) - parseFloat(y))
            : a.cells[col].textContent.localeCompare(b.cells[col].textContent);
          return desc ? -r : r;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  function filterable(input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    input.addEventListener("input", function () {
      var q = input.value.toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        row.style.display = row.cells[0].textContent.toLowerCase().indexOf(q) >= 0 ? "" : "none";
      });
    });
  }

  document.querySelectorAll(".treemap").forEach(function (el) {
    var payload = JSON.parse(el.querySelector("script[type='application/json']").textContent);
    Object.keys(payload.colors).forEach(function (k) { CATEGORY_COLORS[k] = payload.colors[k]; });
    el.classList.add("js");
    el.treemap = new Treemap(el, payload.tree);
  });
  document.querySelectorAll("table.sortable-table").forEach(sortable);
  document.querySelectorAll("input.filter").forEach(filterable);
})();
