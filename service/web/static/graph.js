/* The evidence graph of a case: a small force layout drawn in SVG (no library, no network).
 *
 * Reads the graph from <script id="graph-data"> (features.to_json: nodes with id/type/label,
 * edges with source/target/type/suspicious) and the words of the reader's language from
 * <script id="graph-words">. Nodes are coloured by type (the legend uses the same CSS
 * variables), suspicious links are red and thick; drag a node to move (it stays put), drag the
 * background to pan, scroll to zoom, hover for details, click a flagged dossier to open its case.
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var HIDDEN = { id: 1, type: 1, label: 1, x: 1, y: 1, source: 1, target: 1, key: 1, suspicious: 1 };

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function shown(value, words) {
    if (value === null || value === undefined || value === "") return null;
    if (value === true) return words.attrs.yes || "yes";
    if (value === false) return words.attrs.no || "no";
    if (typeof value === "number") {
      var text = Number.isInteger(value) ? String(value) : value.toFixed(2);
      return words.lang === "vi" ? text.replace(".", ",") : text;
    }
    var m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?/.exec(String(value));
    if (m) {
      var day = words.lang === "vi" ? m[3] + "/" + m[2] + "/" + m[1] : m[1] + "-" + m[2] + "-" + m[3];
      return m[4] && !(m[4] === "00" && m[5] === "00") ? day + " " + m[4] + ":" + m[5] : day;
    }
    if (Array.isArray(value)) return value.join(", ");
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function radius(n, focus) {
    if (n.id === focus) return 13;
    var base = n.type === "dossier" ? 7 : n.type === "account" || n.type === "person" ? 8.5 : 7.5;
    var count = n.attrs.dossier_count;
    return typeof count === "number" && count > 1 ? base + Math.min(7, Math.log2(count) * 1.6) : base;
  }

  function Graph(host, data, words) {
    this.host = host;
    this.words = words;
    var focus = (data.graph && data.graph.focus) || host.getAttribute("data-focus") || "";
    this.focus = focus;
    var byId = {};
    this.nodes = data.nodes.map(function (raw) {
      var attrs = {};
      for (var k in raw) if (!HIDDEN[k]) attrs[k] = raw[k];
      var n = { id: raw.id, type: raw.type || "dossier", label: raw.label || raw.id, attrs: attrs,
                x: 0, y: 0, vx: 0, vy: 0, fixed: false, adj: [] };
      byId[n.id] = n;
      return n;
    });
    var pairs = {};
    this.edges = [];
    var self = this;
    data.edges.forEach(function (raw) {
      var s = byId[raw.source], t = byId[raw.target];
      if (!s || !t) return;
      var attrs = {};
      for (var k in raw) if (!HIDDEN[k]) attrs[k] = raw[k];
      var pair = s.id < t.id ? s.id + "|" + t.id : t.id + "|" + s.id;
      pairs[pair] = (pairs[pair] || 0) + 1;
      var e = { s: s, t: t, type: raw.type, key: raw.key, suspicious: !!raw.suspicious, attrs: attrs,
                pair: pair, nth: pairs[pair] - 1 };
      s.adj.push(t);
      t.adj.push(s);
      self.edges.push(e);
    });
    this.edges.forEach(function (e) { e.of = pairs[e.pair]; });
    this.nodes.forEach(function (n) { n.r = radius(n, focus); });
    this.owner = (data.graph && data.graph.owner) || "";
    this.holder = (data.graph && data.graph.holder) || "";
    this.name(words);
    this.place();
    this.alpha = 1;
    this.settle(this.nodes.length > 250 ? 160 : 320);
    this.draw();
    this.fit();
  }

  function tail(label) {
    var text = String(label || "");
    var bare = text.indexOf(":") >= 0 ? text.slice(text.indexOf(":") + 1) : text;
    return bare.length > 5 ? "…" + bare.slice(-4) : bare;
  }

  /* Short names a person can read and say aloud: the owner and the holder by their part,
   * other people numbered, everything else its kind and the last characters of its id
   * (the full pseudonym stays in the tooltip, to compare with other cases). */
  Graph.prototype.name = function (words) {
    var self = this, people = 1, short = words.short || {};
    this.nodes.forEach(function (n) {
      n.role = n.id === self.focus ? "focus" : n.id === self.owner ? "owner" :
               n.id === self.holder ? "holder" : "";
      if (n.id === self.owner && n.id === self.holder) n.role = "owner holder";
      if (n.role === "focus") n.short = short.focus;
      else if (n.role === "owner holder") n.short = short.owner_holder;
      else if (n.role === "owner") n.short = short.owner;
      else if (n.role === "holder") n.short = short.holder;
      else if (n.type === "person") n.short = (short.person || "#{n}").replace("{n}", ++people);
      else if (n.type === "unit" || n.type === "network") {
        var text = String(n.label);
        n.short = text.length > 24 ? text.slice(0, 23) + "…" : text;
      } else n.short = (words.nodes[n.type] || n.type) + " " + tail(n.label);
    });
  };

  /* Start positions: rings around the focus by hop distance, so the layout settles fast. */
  Graph.prototype.place = function () {
    var start = this.nodes.filter(function (n) { return n.id === this.focus; }, this)[0] || this.nodes[0];
    if (!start) return;
    var depth = {}, rings = [[start]];
    depth[start.id] = 0;
    var queue = [start];
    while (queue.length) {
      var n = queue.shift();
      n.adj.forEach(function (m) {
        if (depth[m.id] === undefined) {
          depth[m.id] = depth[n.id] + 1;
          (rings[depth[m.id]] = rings[depth[m.id]] || []).push(m);
          queue.push(m);
        }
      });
    }
    var lost = this.nodes.filter(function (n) { return depth[n.id] === undefined; });
    if (lost.length) rings.push(lost);
    rings.forEach(function (ring, d) {
      ring.forEach(function (n, i) {
        var angle = (2 * Math.PI * i) / ring.length + d * 0.7;
        n.x = d === 0 ? 0 : Math.cos(angle) * 140 * d;
        n.y = d === 0 ? 0 : Math.sin(angle) * 80 * d;
      });
    });
    start.fixed = true;  // the dossier under review stays in the middle
  };

  /* One step: pairwise repulsion, springs along links, a weak pull to the centre. */
  Graph.prototype.tick = function () {
    var nodes = this.nodes, alpha = this.alpha, i, j;
    for (i = 0; i < nodes.length; i++) {
      var a = nodes[i];
      for (j = i + 1; j < nodes.length; j++) {
        var b = nodes[j];
        var dx = b.x - a.x, dy = b.y - a.y;
        var d2 = dx * dx + dy * dy;
        if (d2 < 0.01) { dx = (Math.random() - 0.5); dy = (Math.random() - 0.5); d2 = 0.5; }
        if (d2 > 250000) continue;
        var f = (2600 * alpha) / d2;
        var room = a.r + b.r + 56;  // keep circles and their labels from overlapping
        if (d2 < room * room) f += (0.5 * (room - Math.sqrt(d2))) / Math.sqrt(d2);
        a.vx -= dx * f; a.vy -= dy * f;
        b.vx += dx * f; b.vy += dy * f;
      }
    }
    this.edges.forEach(function (e) {
      var dx = e.t.x - e.s.x, dy = e.t.y - e.s.y;
      var d = Math.sqrt(dx * dx + dy * dy) || 1;
      // a hub (an account with many dossiers) gets longer links, so its spokes fan out
      // instead of bunching in the middle
      var want = 60 + e.s.r + e.t.r + 9 * Math.sqrt(Math.max(e.s.adj.length, e.t.adj.length));
      if (e.suspicious) want += 20;
      var k = ((d - want) / d) * 0.06 * alpha;
      e.s.vx += dx * k; e.s.vy += dy * k;
      e.t.vx -= dx * k; e.t.vy -= dy * k;
    });
    nodes.forEach(function (n) {
      n.vx -= n.x * 0.0015 * alpha;  // pulled less sideways than up and down: the canvas is wide
      n.vy -= n.y * 0.01 * alpha;
      if (n.fixed) { n.vx = 0; n.vy = 0; return; }
      n.vx *= 0.6; n.vy *= 0.6;
      n.x += Math.max(-30, Math.min(30, n.vx));
      n.y += Math.max(-30, Math.min(30, n.vy));
    });
    this.alpha *= 0.985;
  };

  Graph.prototype.settle = function (steps) {
    for (var i = 0; i < steps && this.alpha > 0.004; i++) this.tick();
  };

  Graph.prototype.draw = function () {
    var self = this, words = this.words;
    var svg = el("svg", { role: "img", "aria-label": this.host.getAttribute("aria-label") || "" });
    svg.setAttribute("data-nodes", String(this.nodes.length));
    svg.setAttribute("data-edges", String(this.edges.length));
    this.svg = svg;
    this.view = el("g", { class: "viewport" }, svg);
    var edgeLayer = el("g", { class: "edges" }, this.view);
    var nodeLayer = el("g", { class: "nodes" }, this.view);
    var ordered = this.edges.filter(function (e) { return !e.suspicious; })
      .concat(this.edges.filter(function (e) { return e.suspicious; }));
    ordered.forEach(function (e) {
      e.g = el("g", { class: "link" }, edgeLayer);
      e.path = el("path", { class: "edge" + (e.suspicious ? " suspicious" : "") }, e.g);
      e.path.setAttribute("data-type", e.type || "");
      e.hit = el("path", { class: "edge-hit" }, e.g);
      e.path.setAttribute("aria-label", (words.edges[e.type] || e.type));
      e.hit.addEventListener("mouseenter", function (ev) { self.tipEdge(e, ev); });
      e.hit.addEventListener("mousemove", function (ev) { self.moveTip(ev); });
      e.hit.addEventListener("mouseleave", function () { self.hideTip(); });
    });
    this.nodes.forEach(function (n) {
      var linked = words.cases[n.id];
      var cls = "node node-" + n.type + (n.id === self.focus ? " focus" : "") + (linked ? " linked" : "") +
                (n.role && n.role !== "focus" ? " " + n.role : "");
      n.g = el("g", { class: cls }, nodeLayer);
      n.g.setAttribute("data-id", n.id);
      n.g.setAttribute("data-type", n.type);
      var colour = getComputedStyle(document.documentElement).getPropertyValue("--n-" + n.type).trim();
      if (n.role && n.role !== "focus") el("circle", { class: "ring", r: (n.r + 4).toFixed(1) }, n.g);
      el("circle", { r: n.r.toFixed(1), fill: colour || "#888" }, n.g);
      n.text = el("text", { x: 0, y: (n.r + 12).toFixed(1), "text-anchor": "middle", class: "label" }, n.g);
      n.text.textContent = n.short;
      n.priority = n.role ? 0 : n.type === "dossier" ? 2 : 1;
      n.g.addEventListener("pointerdown", function (ev) { self.grab(n, ev); });
      n.g.addEventListener("mouseenter", function (ev) { self.tipNode(n, ev); });
      n.g.addEventListener("mousemove", function (ev) { self.moveTip(ev); });
      n.g.addEventListener("mouseleave", function () { self.hideTip(); });
    });
    this.tip = document.createElement("div");
    this.tip.className = "graph-tip";
    this.tip.hidden = true;
    this.host.appendChild(svg);
    this.host.appendChild(this.tip);
    this.listLinks();
    this.k = 1; this.aspect = 1; this.tx = 0; this.ty = 0;
    svg.addEventListener("wheel", function (ev) { self.zoom(ev); }, { passive: false });
    svg.addEventListener("pointerdown", function (ev) { if (ev.target === svg) self.pan(ev); });
    this.render();
  };

  /* Zoom moves the nodes apart or together but keeps their size and text readable. */
  Graph.prototype.render = function () {
    var k = this.k, kx = this.k * this.aspect, ox = this.tx, oy = this.ty;
    function X(n) { return n.x * kx + ox; }
    function Y(n) { return n.y * k + oy; }
    this.edges.forEach(function (e) {
      var sx = X(e.s), sy = Y(e.s), tx = X(e.t), ty = Y(e.t);
      var mx = (sx + tx) / 2, my = (sy + ty) / 2, d;
      if (e.of > 1) {  // several links between one pair: fan them out as curves
        var dx = tx - sx, dy = ty - sy, len = Math.sqrt(dx * dx + dy * dy) || 1;
        var off = (e.nth - (e.of - 1) / 2) * 16;
        var cx = mx - (dy / len) * off, cy = my + (dx / len) * off;
        d = "M" + sx.toFixed(1) + "," + sy.toFixed(1) + " Q" + cx.toFixed(1) + "," + cy.toFixed(1) +
            " " + tx.toFixed(1) + "," + ty.toFixed(1);
        mx = (mx + cx) / 2; my = (my + cy) / 2;
      } else {
        d = "M" + sx.toFixed(1) + "," + sy.toFixed(1) + " L" + tx.toFixed(1) + "," + ty.toFixed(1);
      }
      e.path.setAttribute("d", d);
      e.hit.setAttribute("d", d);
    });
    this.nodes.forEach(function (n) {
      n.g.setAttribute("transform", "translate(" + X(n).toFixed(1) + "," + Y(n).toFixed(1) + ")");
    });
    this.view.setAttribute("data-scale", this.k.toFixed(3));
    this.declutter();
  };

  /* Labels never overlap: the owner's, the holder's and this dossier's first, then the
   * others; a label that would cover one already placed waits for the hover (its tooltip). */
  Graph.prototype.declutter = function () {
    var placed = [];
    var order = this.nodes.slice().sort(function (a, b) { return a.priority - b.priority; });
    order.forEach(function (n) {
      n.text.classList.remove("label-hidden");
      var box = n.text.getBoundingClientRect();
      if (!box.width) return;
      var hit = placed.some(function (p) {
        return box.left < p.right && p.left < box.right && box.top < p.bottom && p.top < box.bottom;
      });
      if (hit) n.text.classList.add("label-hidden");
      else placed.push(box);
    });
  };

  /* The suspicious links in words under the graph: what the red lines are, readable in a list. */
  Graph.prototype.listLinks = function () {
    var list = document.getElementById("suspicious-links");
    if (!list) return;
    var words = this.words;
    this.edges.filter(function (e) { return e.suspicious; }).forEach(function (e) {
      var li = document.createElement("li");
      li.textContent = e.s.short + " — " + (words.edges[e.type] || e.type) + " — " + e.t.short;
      list.appendChild(li);
    });
    list.hidden = !list.children.length;
  };

  Graph.prototype.fit = function () {
    var w = this.host.clientWidth || 800, h = this.host.clientHeight || 560;
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    this.nodes.forEach(function (n) {
      x0 = Math.min(x0, n.x); y0 = Math.min(y0, n.y);
      x1 = Math.max(x1, n.x); y1 = Math.max(y1, n.y);
    });
    if (!isFinite(x0)) return;
    var padX = 70, padY = 36;  // room for the labels under the nodes at the edges
    var kx = (w - 2 * padX) / Math.max(1, x1 - x0), ky = (h - 2 * padY - 12) / Math.max(1, y1 - y0);
    this.k = Math.min(2.5, kx, ky);
    // a wide canvas and a tall layout: spread it sideways a little (positions only, not sizes)
    this.aspect = Math.max(1, Math.min(1.6, kx / this.k));
    this.tx = w / 2 - ((x0 + x1) / 2) * this.k * this.aspect;
    this.ty = (h - 12) / 2 - ((y0 + y1) / 2) * this.k;
    this.render();
  };

  Graph.prototype.point = function (ev) {
    var box = this.svg.getBoundingClientRect();
    return { x: (ev.clientX - box.left - this.tx) / (this.k * this.aspect), y: (ev.clientY - box.top - this.ty) / this.k };
  };

  Graph.prototype.zoom = function (ev) {
    ev.preventDefault();
    var box = this.svg.getBoundingClientRect();
    var px = ev.clientX - box.left, py = ev.clientY - box.top;
    var k = Math.max(0.1, Math.min(8, this.k * Math.exp(-ev.deltaY * 0.0015)));
    this.tx = px - ((px - this.tx) * k) / this.k;
    this.ty = py - ((py - this.ty) * k) / this.k;
    this.k = k;
    this.render();
  };

  Graph.prototype.pan = function (ev) {
    var self = this, x = ev.clientX, y = ev.clientY, tx = this.tx, ty = this.ty;
    this.svg.classList.add("panning");
    function move(e) { self.tx = tx + e.clientX - x; self.ty = ty + e.clientY - y; self.render(); }
    function up() {
      self.svg.classList.remove("panning");
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
    }
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  };

  Graph.prototype.grab = function (n, ev) {
    ev.preventDefault();
    ev.stopPropagation();
    var self = this, x = ev.clientX, y = ev.clientY, moved = false;
    this.hideTip();
    function move(e) {
      if (!moved && Math.abs(e.clientX - x) + Math.abs(e.clientY - y) < 4) return;
      moved = true;
      var p = self.point(e);
      n.x = p.x; n.y = p.y; n.fixed = true;
      self.alpha = Math.max(self.alpha, 0.25);
      self.animate();
    }
    function up() {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      var caseId = self.words.cases[n.id];
      if (!moved && caseId) window.location.href = "/cases/" + caseId;
    }
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  };

  Graph.prototype.animate = function () {
    if (this.running) return;
    this.running = true;
    var self = this;
    function frame() {
      self.tick();
      self.render();
      if (self.alpha > 0.01) window.requestAnimationFrame(frame);
      else self.running = false;
    }
    window.requestAnimationFrame(frame);
  };

  Graph.prototype.rows = function (attrs) {
    var words = this.words, out = [];
    Object.keys(attrs).forEach(function (k) {
      var v = shown(attrs[k], words);
      if (v === null) return;
      var name = words.attrs[k] || k.replace(/_/g, " ");
      var coded = words.values && words.values[k];
      if (coded && coded[String(attrs[k])]) v = coded[String(attrs[k])];
      out.push([name, v]);
    });
    return out;
  };

  Graph.prototype.showTip = function (title, rows, ev, extra) {
    var tip = this.tip;
    tip.textContent = "";
    var b = document.createElement("b");
    b.textContent = title;
    tip.appendChild(b);
    rows.forEach(function (r) {
      var div = document.createElement("div");
      div.className = "tip-row";
      div.appendChild(document.createTextNode(r[0] + ": "));
      var span = document.createElement("span");
      span.textContent = r[1];
      div.appendChild(span);
      tip.appendChild(div);
    });
    if (extra) {
      var more = document.createElement("div");
      more.textContent = extra;
      tip.appendChild(more);
    }
    tip.hidden = false;
    this.moveTip(ev);
  };

  Graph.prototype.tipNode = function (n, ev) {
    var words = this.words;
    var title = n.short + " — " + (words.nodes[n.type] || n.type) + ": " + n.label;
    var caseId = words.cases[n.id];
    var extra = caseId ? (words.attrs.open_case || "#{id}").replace("{id}", caseId) : "";
    this.showTip(title, this.rows(n.attrs), ev, extra);
    var near = {};
    near[n.id] = true;
    n.adj.forEach(function (m) { near[m.id] = true; });
    this.nodes.forEach(function (m) { m.g.classList.toggle("dim", !near[m.id]); });
    this.edges.forEach(function (e) { e.path.classList.toggle("dim", e.s !== n && e.t !== n); });
  };

  Graph.prototype.tipEdge = function (e, ev) {
    var words = this.words;
    var title = (words.edges[e.type] || e.type) + (e.suspicious ? " — " + words.suspicious : "");
    var rows = this.rows(e.attrs);
    rows.unshift(["", e.s.short + " → " + e.t.short]);
    rows[0][0] = words.nodes[e.s.type] + " → " + words.nodes[e.t.type];
    this.showTip(title, rows, ev, "");
  };

  Graph.prototype.moveTip = function (ev) {
    var box = this.host.getBoundingClientRect();
    var x = ev.clientX - box.left + 14, y = ev.clientY - box.top + 14;
    var w = this.tip.offsetWidth, h = this.tip.offsetHeight;
    if (x + w > box.width) x = Math.max(4, ev.clientX - box.left - w - 14);
    if (y + h > box.height) y = Math.max(4, ev.clientY - box.top - h - 14);
    this.tip.style.left = x + "px";
    this.tip.style.top = y + "px";
  };

  Graph.prototype.hideTip = function () {
    this.tip.hidden = true;
    this.nodes.forEach(function (m) { m.g.classList.remove("dim"); });
    this.edges.forEach(function (e) { e.path.classList.remove("dim"); });
  };

  function start() {
    var host = document.getElementById("graph-canvas");
    var data = readJson("graph-data");
    var words = readJson("graph-words");
    if (!host || !data || !words || !data.nodes) return;
    var graph = new Graph(host, data, words);
    host.setAttribute("data-ready", "1");
    var fit = document.getElementById("graph-fit");
    if (fit) fit.addEventListener("click", function () { graph.fit(); });
    window.detectorGraph = {
      nodes: graph.nodes.length,
      edges: graph.edges.length,
      suspicious: graph.edges.filter(function (e) { return e.suspicious; }).length,
      fit: function () { graph.fit(); }
    };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
