/* Warmline agent workspace: keyboard navigation, live updates, presence, saved replies.
   Project-written, no dependencies beyond htmx (served from the django-htmx package). */
(function () {
  "use strict";

  function csrfToken() {
    var headers = document.body.getAttribute("hx-headers");
    try { return JSON.parse(headers)["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  /* A websocket that reconnects with backoff; onMessage gets parsed JSON. */
  function liveSocket(path, onMessage, onOpen) {
    var delay = 1000, socket = null, closed = false;
    function open() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + location.host + path);
      socket.onopen = function () { delay = 1000; if (onOpen) onOpen(socket); };
      socket.onmessage = function (e) { try { onMessage(JSON.parse(e.data)); } catch (err) { /* ignore */ } };
      socket.onclose = function (e) {
        if (closed || e.code === 4401 || e.code === 4404) return;
        setTimeout(open, delay); delay = Math.min(delay * 2, 30000);
      };
    }
    open();
    return {
      send: function (obj) { if (socket && socket.readyState === 1) socket.send(JSON.stringify(obj)); },
      close: function () { closed = true; if (socket) socket.close(); }
    };
  }

  /* ---------------- inbox ---------------- */
  function initInbox(root) {
    var current = 0;
    function rows() { return Array.prototype.slice.call(document.querySelectorAll("#inbox-rows tr[data-row]")); }
    function select(i, focus) {
      var list = rows();
      if (!list.length) return;
      current = Math.max(0, Math.min(i, list.length - 1));
      list.forEach(function (r, k) { r.classList.toggle("selected", k === current); r.removeAttribute("aria-selected"); });
      list[current].setAttribute("aria-selected", "true");
      if (focus !== false) list[current].querySelector("a[data-open]").focus();
    }
    function selectedRow() { return rows()[current]; }
    function rowsUrl() { return root.dataset.rowsUrl + location.search; }
    var note = root.querySelector("[data-live-note]");

    function refresh() {
      var keep = selectedRow() ? selectedRow().dataset.number : null;
      htmx.ajax("GET", rowsUrl(), { target: "#inbox-rows", swap: "outerHTML" }).then(function () {
        var list = rows();
        var idx = list.findIndex(function (r) { return r.dataset.number === keep; });
        select(idx >= 0 ? idx : current, false);
        if (note) note.textContent = "";
      });
    }

    document.addEventListener("keydown", function (e) {
      if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      var row = selectedRow();
      if (e.key === "j") { select(current + 1); e.preventDefault(); }
      else if (e.key === "k") { select(current - 1); e.preventDefault(); }
      else if (e.key === "Enter" && row && !e.target.closest("a,button")) { location.href = row.querySelector("a[data-open]").href; }
      else if (e.key === "r" && row) { location.href = row.querySelector("a[data-open]").href + "#reply-text"; }
      else if (e.key === "x" && row) { var box = row.querySelector("input[type=checkbox]"); box.checked = !box.checked; }
      else if (e.key === "e" && row) {
        var data = new FormData();
        data.append("numbers", row.dataset.number);
        data.append("action", "resolve");
        data.append("query", location.search.replace(/^\?/, ""));
        // form.action would be the buttons named "action": read the attribute.
        fetch(document.getElementById("bulk").getAttribute("action"), {
          method: "POST", body: data, credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" }
        }).then(function () { refresh(); });
      } else if (e.key === ".") { refresh(); }
    });
    document.addEventListener("focusin", function (e) {
      var tr = e.target.closest && e.target.closest("#inbox-rows tr[data-row]");
      if (tr) { var i = rows().indexOf(tr); if (i >= 0) select(i, false); }
    });
    select(0, false);

    var pending = null;
    liveSocket(root.dataset.wsPath, function (msg) {
      if (msg.type !== "inbox") return;
      // Never yank rows from under an agent who is ticking boxes or typing.
      var busy = document.querySelector("#inbox-rows input[type=checkbox]:checked") || typing(document.activeElement);
      if (busy) { if (note) note.textContent = root.dataset.newActivity || "New activity — press . to refresh."; return; }
      clearTimeout(pending);
      pending = setTimeout(refresh, 300);
    });
  }

  /* ---------------- conversation ---------------- */
  function initConversation(root) {
    var box = document.querySelector("[data-reply-box]");
    var presenceEl = root.querySelector("[data-presence]");
    var people = {};
    var strings = {
      replying: root.dataset.replyingText || "{name} is replying…",
      viewing: root.dataset.viewingText || "{name} is also viewing this conversation"
    };

    function renderPresence() {
      var lines = [];
      Object.keys(people).forEach(function (id) {
        var p = people[id];
        lines.push((p.state === "replying" ? strings.replying : strings.viewing).replace("{name}", p.name));
      });
      presenceEl.textContent = lines.join(" · ");
      presenceEl.classList.toggle("active", lines.length > 0);
    }

    function refreshTimeline() {
      var atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
      htmx.ajax("GET", root.dataset.timelineUrl + location.search, { target: "#timeline", swap: "outerHTML" }).then(function () {
        if (atBottom && box) box.scrollIntoView({ block: "nearest" });
      });
    }

    var socket = liveSocket(root.dataset.wsPath, function (msg) {
      if (msg.type === "timeline") { refreshTimeline(); }
      else if (msg.type === "presence") {
        if (msg.state === "left") delete people[msg.member_id];
        else people[msg.member_id] = { name: msg.name, state: msg.state };
        renderPresence();
      }
    }, function (raw) {
      // A (re)opened page starts or continues its work session if it is in use.
      if (working()) raw.send(JSON.stringify({ action: "active", page: pageId }));
    });

    // Active work time (average handle time): ping every 15 s while this page is visible
    // and was used in the last minute; the server measures the time between pings.
    var lastUse = Date.now(), pageId = String(Date.now()) + String(Math.random()).slice(2, 10);
    function working() { return document.visibilityState === "visible" && Date.now() - lastUse < 60000; }
    ["keydown", "mousemove", "mousedown", "scroll", "input", "focus"].forEach(function (name) {
      window.addEventListener(name, function () { lastUse = Date.now(); }, { passive: true, capture: true });
    });
    setInterval(function () {
      if (working()) socket.send({ action: "active", page: pageId });
    }, 15000);

    var lastSent = 0, idleTimer = null;
    function idle() { socket.send({ action: "idle" }); lastSent = 0; }
    window.warmline = { idle: idle };
    if (box) {
      box.addEventListener("input", function () {
        var now = Date.now();
        if (now - lastSent > 3000) { socket.send({ action: "replying" }); lastSent = now; }
        clearTimeout(idleTimer);
        idleTimer = setTimeout(idle, 6000);
      });
      if (location.hash === "#reply-text") box.focus();
    }

    var picker = document.querySelector("[data-saved-replies]");
    if (picker && box) {
      picker.addEventListener("change", function () {
        if (!picker.value) return;
        fetch(picker.value, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
          // Plain text into the textarea's value: nothing is parsed as HTML.
          box.value = box.value ? box.value + "\n" + data.text : data.text;
          picker.value = "";
          box.focus();
        });
      });
    }

    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && typing(e.target)) { e.target.blur(); return; }
      if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "r" && box) { box.focus(); e.preventDefault(); }
      else if (e.key === "e") {
        var form = document.querySelector("[data-resolve-form]");
        if (form) form.submit();
      } else if (e.key === "u") { location.href = "/"; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var inboxRoot = document.querySelector("[data-inbox]");
    if (inboxRoot) initInbox(inboxRoot);
    var convRoot = document.querySelector("[data-conversation]");
    if (convRoot) initConversation(convRoot);
  });
})();
