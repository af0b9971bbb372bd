// report.html's sample browser. Every string from the data (completions, prompts, ids, paths) is
// placed with textContent or as an attribute value of an element made by createElement: never
// parsed as HTML. Data: #report-data (samples, runs, comparisons) and #report-images (thumbnails,
// parsed when a sample is first shown).
(function () {
  "use strict";
  var PAGE_SIZE = 50;
  var data = null, images = null, byKey = {};
  var filtered = [], page = 0, selected = -1;
  var state = { task: "", template: "", verdict: "", vrun: 0, hack: "", agree: "", q: "", cell: null };
  var controls = {};

  function $(id) { return document.getElementById(id); }

  function node(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function add(parent) {
    for (var i = 1; i < arguments.length; i++) if (arguments[i]) parent.appendChild(arguments[i]);
    return parent;
  }

  function readJSON(id) {
    var s = $(id);
    return s ? JSON.parse(s.textContent) : null;
  }

  function imageData() {
    if (images === null) images = readJSON("report-images") || {};
    return images;
  }

  function runLabel(i) { return data.runs[i]; }

  // --- filtering -------------------------------------------------------------------------------

  function sampleHacks(s) {
    if (s._hacks) return s._hacks;
    var seen = {};
    s.runs.forEach(function (r) {
      if (r) r.rots.forEach(function (rot) { rot.hacks.forEach(function (h) { seen[h] = true; }); });
    });
    s._hacks = Object.keys(seen);
    return s._hacks;
  }

  function agreement(s, run) {
    var r = s.runs[run];
    if (!r) return "";
    var argued = r.rots.filter(function (rot) { return rot.tagree === true || rot.tagree === false; });
    if (!argued.length) return "none";
    return argued.every(function (rot) { return rot.tagree; }) ? "agree" : "disagree";
  }

  function haystack(s) {
    if (s._hay === undefined) {
      var parts = [s.key, s.prompt, s.gold];
      s.runs.forEach(function (r) {
        if (r) r.rots.forEach(function (rot) {
          parts.push(rot.pred);
          rot.text.forEach(function (piece) { parts.push(piece[1]); });
        });
      });
      s._hay = parts.join("\n").toLowerCase();
    }
    return s._hay;
  }

  function inCell(s, cell) {
    var c = data.comparisons[cell.cmp];
    if (s.task !== c.task || s.template !== c.template) return false;
    var a = s.runs[c.baseline], b = s.runs[c.run];
    if (!a || !b) return false;
    if (cell.which === "only_a") return a.ok && !b.ok;
    if (cell.which === "only_b") return !a.ok && b.ok;
    if (cell.which === "both") return a.ok && b.ok;
    return !a.ok && !b.ok;
  }

  function matches(s) {
    if (state.task && s.task !== state.task) return false;
    if (state.template && s.template !== state.template) return false;
    if (state.verdict) {
      var r = s.runs[state.vrun];
      if (!r || (state.verdict === "correct") !== r.ok) return false;
    }
    if (state.hack) {
      var hacks = sampleHacks(s);
      if (state.hack === "*any") { if (!hacks.length) return false; }
      else if (state.hack === "*none") { if (hacks.length) return false; }
      else if (hacks.indexOf(state.hack) < 0) return false;
    }
    if (state.agree && agreement(s, state.vrun) !== state.agree) return false;
    if (state.cell && !inCell(s, state.cell)) return false;
    if (state.q && haystack(s).indexOf(state.q) < 0) return false;
    return true;
  }

  function applyFilters(keepKey) {
    filtered = data.samples.filter(matches);
    var at = keepKey ? filtered.indexOf(byKey[keepKey]) : -1;
    selected = at;
    page = at >= 0 ? Math.floor(at / PAGE_SIZE) : 0;
    $("filter-count").textContent = filtered.length + " of " + data.samples.length + " samples";
    var chip = $("cell-chip");
    chip.textContent = "";
    if (state.cell) {
      var c = data.comparisons[state.cell.cmp];
      add(chip, node("span", "chip", cellTitle(c, state.cell.which) + " · " + c.task + " " + c.template),
          button("clear", function () { state.cell = null; applyFilters(currentKey()); }));
    }
    renderList();
    if (selected < 0) renderDetail(null);
  }

  function currentKey() { return selected >= 0 && filtered[selected] ? filtered[selected].key : null; }

  // --- controls --------------------------------------------------------------------------------

  function button(text, onclick, cls) {
    var b = node("button", cls || "", text);
    b.type = "button";
    b.addEventListener("click", onclick);
    return b;
  }

  function select(name, label, options, onchange) {
    var wrap = node("label", "control", label + " ");
    var s = node("select");
    s.name = name;
    options.forEach(function (o) {
      var opt = node("option", "", o[1]);
      opt.value = o[0];
      s.appendChild(opt);
    });
    s.addEventListener("change", function () { onchange(s.value); applyFilters(currentKey()); });
    controls[name] = s;
    wrap.appendChild(s);
    return wrap;
  }

  function unique(field) {
    var seen = {}, out = [];
    data.samples.forEach(function (s) { if (!seen[s[field]]) { seen[s[field]] = true; out.push(s[field]); } });
    return out;
  }

  function renderFilters() {
    var box = $("filters");
    var all = [["", "all"]];
    add(box,
      select("task", "task", all.concat(unique("task").map(function (t) { return [t, t]; })),
             function (v) { state.task = v; }),
      select("template", "template", all.concat(unique("template").map(function (t) { return [t, t]; })),
             function (v) { state.template = v; }),
      select("verdict", "verdict", [["", "all"], ["correct", "correct"], ["incorrect", "incorrect"]],
             function (v) { state.verdict = v; }),
      data.runs.length > 1 ? select("vrun", "of run", data.runs.map(function (r, i) { return [String(i), r]; }),
                                    function (v) { state.vrun = Number(v); }) : null,
      select("hack", "indicator", [["", "all"], ["*any", "any fired"], ["*none", "none fired"]].concat(
               Object.keys(data.indicators).map(function (k) { return [k, k.replace(/^hack\//, "")]; })),
             function (v) { state.hack = v; }),
      select("agree", "think↔answer", [["", "all"], ["agree", "thought agrees"], ["disagree", "thought disagrees"],
                                       ["none", "thought argues no answer"]],
             function (v) { state.agree = v; }));
    var search = node("input");
    search.type = "search";
    search.id = "search";
    search.placeholder = "search text (/)";
    var timer = null;
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { state.q = search.value.toLowerCase(); applyFilters(currentKey()); }, 150);
    });
    controls.search = search;
    var count = node("span", "count", "");
    count.id = "filter-count";
    var chip = node("span");
    chip.id = "cell-chip";
    add(box, search, button("reset", function () { resetFilters(); applyFilters(currentKey()); }), count, chip);
  }

  function resetFilters() {
    state = { task: "", template: "", verdict: "", vrun: 0, hack: "", agree: "", q: "", cell: null };
    Object.keys(controls).forEach(function (k) { controls[k].value = k === "vrun" ? "0" : ""; });
  }

  // --- paired view -----------------------------------------------------------------------------

  function cellTitle(c, which) {
    var a = runLabel(c.baseline), b = runLabel(c.run);
    return { only_a: "only " + a + " right", only_b: "only " + b + " right", both: "both right",
             neither: "neither right" }[which];
  }

  function renderPaired() {
    var box = $("paired");
    if (!box) return;
    if (!data.comparisons.length) {
      box.appendChild(node("p", "", "No paired tests: the runs share no task x template with sample logs."));
      return;
    }
    box.appendChild(node("p", "hint", "Each button lists those samples below. Counts are of samples " +
      "(a circular question counts once); the McNemar test compares the two 'only' cells."));
    var tbl = node("table", "paired");
    var head = node("tr");
    ["task", "template", "run vs baseline", "n", "", "", "", "", "McNemar p"].forEach(function (h) {
      head.appendChild(node("th", "", h));
    });
    add(tbl, add(node("thead"), head));
    var body = node("tbody");
    data.comparisons.forEach(function (c, i) {
      var counts = { only_a: 0, only_b: 0, both: 0, neither: 0 };
      data.samples.forEach(function (s) {
        ["only_a", "only_b", "both", "neither"].forEach(function (w) { if (inCell(s, { cmp: i, which: w })) counts[w]++; });
      });
      var tr = node("tr");
      add(tr, node("td", "", c.task), node("td", "", c.template),
          node("td", "", runLabel(c.run) + " vs " + runLabel(c.baseline)), node("td", "", c.n));
      ["only_a", "only_b", "both", "neither"].forEach(function (w) {
        var td = node("td");
        var b = button(cellTitle(c, w) + ": " + counts[w], function () {
          resetFilters();
          state.cell = { cmp: i, which: w };
          state.task = c.task; state.template = c.template;
          controls.task.value = c.task; controls.template.value = c.template;
          applyFilters(null);
          if (filtered.length) choose(0);
          $("filters").scrollIntoView();
        }, "cell-button");
        b.setAttribute("data-cmp", String(i));
        b.setAttribute("data-cell", w);
        b.setAttribute("data-count", String(counts[w]));
        td.appendChild(b);
        tr.appendChild(td);
      });
      tr.appendChild(node("td", c.significant ? "significant" : "", c.p === null || c.p === undefined ? "—" :
        (c.p < 0.001 ? "<0.001" : c.p.toFixed(3)) + (c.significant ? " *" : "")));
      body.appendChild(tr);
    });
    tbl.appendChild(body);
    box.appendChild(tbl);
  }

  // --- list ------------------------------------------------------------------------------------

  function link(s) { return "#s=" + encodeURIComponent(s.key); }

  function renderList() {
    var box = $("sample-list");
    box.textContent = "";
    var pages = Math.max(1, Math.ceil(filtered.length / PAGE_SIZE));
    page = Math.min(Math.max(0, page), pages - 1);
    var nav = node("div", "pager");
    add(nav, button("‹ prev", function () { gotoPage(page - 1); }),
        node("span", "", "page " + (page + 1) + " / " + pages),
        button("next ›", function () { gotoPage(page + 1); }));
    box.appendChild(nav);
    var list = node("ol", "samples");
    list.start = page * PAGE_SIZE + 1;
    filtered.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).forEach(function (s, j) {
      var i = page * PAGE_SIZE + j;
      var li = node("li", i === selected ? "selected" : "");
      var a = node("a", "sample-link");
      a.href = link(s);
      a.setAttribute("data-key", s.key);
      s.runs.forEach(function (r) {
        a.appendChild(node("span", r ? (r.ok ? "ok" : "bad") : "absent", r ? (r.ok ? "✓" : "✗") : "·"));
      });
      add(a, node("span", "key", s.task + " · " + s.template + " · " + s.id));
      var first = s.runs.filter(function (r) { return r; })[0];
      if (first) a.appendChild(node("span", "pred", first.rots[0].pred === null ? "(no answer)" : first.rots[0].pred));
      if (sampleHacks(s).length) a.appendChild(node("span", "hack-count", "⚑" + sampleHacks(s).length));
      li.appendChild(a);
      list.appendChild(li);
    });
    box.appendChild(list);
    if (!filtered.length) box.appendChild(node("p", "empty", "No sample matches these filters."));
  }

  function gotoPage(p) {
    var pages = Math.max(1, Math.ceil(filtered.length / PAGE_SIZE));
    page = Math.min(Math.max(0, p), pages - 1);
    choose(page * PAGE_SIZE);
  }

  function choose(i) {
    if (!filtered.length) return;
    i = Math.min(Math.max(0, i), filtered.length - 1);
    selected = i;
    page = Math.floor(i / PAGE_SIZE);
    var s = filtered[i];
    if (history.replaceState) history.replaceState(null, "", link(s));
    renderList();
    renderDetail(s);
    var li = document.querySelector("#sample-list li.selected");
    if (li && li.scrollIntoView) li.scrollIntoView({ block: "nearest" });
  }

  // --- detail ----------------------------------------------------------------------------------

  function field(dl, name, value, cls) {
    add(dl, node("dt", "", name), node("dd", cls || "", value === null || value === undefined ? "—" : value));
  }

  function fmt(x) { return typeof x === "number" ? (Math.round(x * 1000) / 1000).toString() : x; }

  function completion(rot) {
    var pre = node("pre", "completion");
    rot.text.forEach(function (piece) { pre.appendChild(node("span", "seg-" + piece[0], piece[1])); });
    return pre;
  }

  function rotationBlock(rot, multi) {
    var box = node("div", "rotation");
    if (multi) {
      box.appendChild(node("h5", "", "rotation " + rot.rot + (rot.ok ? " ✓" : " ✗")));
    }
    if (rot.choices) {
      var ol = node("ol", "choices");
      ol.type = "A";
      rot.choices.forEach(function (c) { ol.appendChild(node("li", "", c)); });
      box.appendChild(ol);
    }
    var dl = node("dl", "fields");
    field(dl, "answer", rot.pred === null ? "(none extracted)" : rot.pred, rot.ok ? "ok" : "bad");
    field(dl, "verdict", rot.ok ? "correct" : "incorrect", rot.ok ? "ok" : "bad");
    field(dl, "format", rot.fmt === null ? "—" : rot.fmt ? "ok" : "not ok");
    field(dl, "tokens", rot.tokens);
    var parts = Object.keys(rot.rewards).sort().map(function (k) { return k + " " + fmt(rot.rewards[k]); });
    field(dl, "reward", fmt(rot.reward) + (parts.length ? " (" + parts.join(", ") + ")" : ""));
    if (rot.lshare !== undefined) field(dl, "length share", fmt(rot.lshare));
    var hacks = node("dd", "hacks");
    if (!rot.hacks.length) hacks.textContent = "none fired";
    rot.hacks.forEach(function (h) {
      var chip = node("span", "chip hack", h.replace(/^hack\//, ""));
      chip.title = data.indicators[h] || h;
      hacks.appendChild(chip);
    });
    add(dl, node("dt", "", "indicators"), hacks);
    var agree = !rot.think ? "no <think> span" :
      rot.tagree === null || rot.tagree === undefined ? "the thought argues no answer" :
      (rot.tagree ? "agrees" : "DISAGREES") + ": the thought argues " + JSON.stringify(rot.targ);
    field(dl, "think↔answer", agree, rot.tagree === false ? "bad" : "");
    add(box, dl, completion(rot));
    if (rot.cut) box.appendChild(node("p", "hint", rot.cut + " characters of this completion are not shown."));
    return box;
  }

  function renderDetail(s) {
    var box = $("sample-detail");
    box.textContent = "";
    if (!s) {
      box.appendChild(node("p", "hint", filtered.length ? "Choose a sample (j / k)." : ""));
      return;
    }
    var h = node("h3");
    var a = node("a", "", s.task + " · " + s.template + " · " + s.id);
    a.href = link(s);
    h.appendChild(a);
    box.appendChild(h);
    var media = node("div", "images");
    var thumbs = imageData()[s.img] || [];
    thumbs.forEach(function (uri, k) {
      var img = node("img");
      img.alt = "image " + (k + 1) + " of " + s.id;
      if (typeof uri === "string" && uri.indexOf("data:image/") === 0) img.src = uri;
      media.appendChild(img);
    });
    var note = data.imageNotes[s.img];
    if (note) media.appendChild(node("p", "hint", note));
    if (!thumbs.length && !note) media.appendChild(node("p", "hint", "no image embedded"));
    box.appendChild(media);
    var dl = node("dl", "fields");
    field(dl, "gold", s.gold);
    field(dl, "position", s.index);
    box.appendChild(dl);
    var details = node("details", "prompt");
    add(details, node("summary", "", "prompt"), node("pre", "", s.prompt));
    box.appendChild(details);
    var cols = node("div", "run-columns");
    s.runs.forEach(function (r, i) {
      var col = node("div", "run-col");
      var title = node("h4", "", runLabel(i) + ": ");
      col.appendChild(title);
      if (!r) {
        title.appendChild(node("span", "absent", "not evaluated on this sample"));
      } else {
        title.appendChild(node("span", r.ok ? "ok" : "bad", r.ok ? "correct" : "incorrect"));
        r.rots.forEach(function (rot) { col.appendChild(rotationBlock(rot, r.rots.length > 1)); });
        col.appendChild(node("p", "source", r.src));
      }
      cols.appendChild(col);
    });
    box.appendChild(cols);
  }

  // --- navigation ------------------------------------------------------------------------------

  function fromHash() {
    var h = location.hash;
    if (h.indexOf("#s=") !== 0) return false;
    var key;
    try { key = decodeURIComponent(h.slice(3)); } catch (e) { return false; }
    var s = byKey[key];
    if (!s) {
      $("sample-detail").textContent = "";
      $("sample-detail").appendChild(node("p", "bad", "No sample " + key + " in this report."));
      return true;
    }
    var at = filtered.indexOf(s);
    if (at < 0) { resetFilters(); applyFilters(null); at = filtered.indexOf(s); }
    choose(at);
    $("sample-detail").scrollIntoView();
    return true;
  }

  function onKey(e) {
    var t = e.target && e.target.tagName;
    if (t === "INPUT" || t === "SELECT" || t === "TEXTAREA" || e.ctrlKey || e.metaKey || e.altKey) {
      if (e.key === "Escape" && e.target.blur) e.target.blur();
      return;
    }
    if (e.key === "j" || e.key === "ArrowDown") { choose(selected + 1); e.preventDefault(); }
    else if (e.key === "k" || e.key === "ArrowUp") { choose(selected - 1); e.preventDefault(); }
    else if (e.key === "n") gotoPage(page + 1);
    else if (e.key === "p") gotoPage(page - 1);
    else if (e.key === "/") { controls.search.focus(); e.preventDefault(); }
  }

  function init() {
    data = readJSON("report-data");
    data.samples.forEach(function (s) { byKey[s.key] = s; });
    var notes = $("filters");
    data.notes.forEach(function (n) { notes.parentNode.insertBefore(node("p", "note", n), notes); });
    renderFilters();
    renderPaired();
    applyFilters(null);
    if (!fromHash() && filtered.length) { selected = 0; renderList(); renderDetail(filtered[0]); }
    window.addEventListener("hashchange", fromHash);
    document.addEventListener("keydown", onKey);
    document.body.setAttribute("data-ready", "1");
    if (window.performance && performance.mark) performance.mark("samples-ready");
  }

  // Let the static page (tables, plots) paint before the sample data is parsed.
  requestAnimationFrame(function () { setTimeout(init, 0); });
})();
