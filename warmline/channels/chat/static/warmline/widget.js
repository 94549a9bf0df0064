/* Warmline live-chat widget. Plain JavaScript, no framework, no dependencies.
 *
 *   <script src="https://HOST/widget.js" data-workspace="SLUG" async></script>
 *
 * Talks to wss://HOST/ws/widget/SLUG/ (see warmline/channels/chat/consumers.py),
 * reconnects with back-off, and keeps the visitor's signed token in localStorage
 * so the transcript survives page loads. Unsent messages are kept too and resent
 * with the same id after a reconnect (the server drops repeats).
 * Everything the server sends is shown with textContent: never parsed as HTML.
 */
(function () {
  "use strict";
  var T = __WARMLINE_STRINGS__;
  var script = document.currentScript ||
    document.querySelector("script[data-workspace][src*='widget.js']");
  if (!script || window.__warmlineChat) return;
  var slug = script.getAttribute("data-workspace");
  if (!slug) return;
  var src = new URL(script.src, location.href);
  var wsUrl = (src.protocol === "https:" ? "wss://" : "ws://") + src.host +
    "/ws/widget/" + encodeURIComponent(slug) + "/";
  var storeKey = "warmline.chat." + slug;

  function load() {
    try { return JSON.parse(localStorage.getItem(storeKey)) || {}; } catch (e) { return {}; }
  }
  function save() {
    try { localStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* private mode */ }
  }
  var state = load();
  state.pending = state.pending || [];

  // --- UI (an open shadow root keeps the host page's CSS out) ---------------------
  var host = document.createElement("div");
  host.id = "warmline-chat";
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" +
    ":host{all:initial;font:14px/1.4 system-ui,sans-serif;color:#1f2933}" +
    ".l{position:fixed;right:20px;bottom:20px;border:0;border-radius:24px;padding:12px 18px;" +
    "background:#0b6e4f;color:#fff;cursor:pointer;box-shadow:0 2px 8px #0003;z-index:2147483646}" +
    ".p{position:fixed;right:20px;bottom:76px;width:320px;max-width:calc(100vw - 40px);" +
    "height:440px;max-height:calc(100vh - 100px);display:none;flex-direction:column;" +
    "background:#fff;border-radius:10px;box-shadow:0 4px 20px #0004;z-index:2147483647}" +
    ".p.o{display:flex}.h{padding:10px 12px;background:#0b6e4f;color:#fff;border-radius:10px 10px 0 0}" +
    ".s{font-size:12px;padding:4px 12px;color:#52606d;min-height:16px}" +
    ".m{flex:1;overflow-y:auto;padding:8px 12px}" +
    ".b{margin:4px 0;padding:6px 10px;border-radius:8px;max-width:85%;white-space:pre-wrap;" +
    "word-wrap:break-word}.v{background:#e3f2ec;margin-left:auto}.a{background:#f0f2f5}" +
    ".b.q{opacity:.6}.n{font-size:11px;color:#52606d}" +
    "form{display:flex;gap:6px;padding:8px 12px;border-top:1px solid #e4e7eb}" +
    "input,textarea{flex:1;font:inherit;padding:6px;border:1px solid #cbd2d9;border-radius:6px}" +
    "textarea{resize:none;height:38px}button{font:inherit;cursor:pointer}" +
    ".e{display:none;flex-direction:column}.e.o{display:flex}.e p{margin:0 0 6px}" +
    ".r{color:#b42318;font-size:12px;padding:0 12px}" +
    ".c .ct{font-weight:600;margin-bottom:4px}.c .cq{margin:6px 0 2px}" +
    ".c .cs{display:flex;flex-wrap:wrap;gap:3px}.c .cs button{min-width:26px;padding:4px;" +
    "border:1px solid #9aa5b1;border-radius:4px;background:#fff}" +
    ".c .cs button.sel{background:#0b6e4f;color:#fff}.c .cl{font-size:11px;color:#52606d}" +
    ".c .cn{margin-top:4px}" +
    "</style>" +
    "<button class='l' data-wl='launcher' type='button'></button>" +
    "<div class='p' data-wl='panel' role='dialog'>" +
    "<div class='h' data-wl='title'></div><div class='s' data-wl='status' aria-live='polite'></div>" +
    "<div class='m' data-wl='messages' aria-live='polite'></div>" +
    "<form class='e' data-wl='email-form'><p data-wl='email-note'></p>" +
    "<div style='display:flex;gap:6px'><input type='email' data-wl='email' required>" +
    "<button type='submit' data-wl='email-save'></button></div></form>" +
    "<div class='r' data-wl='error' role='alert'></div>" +
    "<form data-wl='compose'><textarea data-wl='input'></textarea>" +
    "<button type='submit' data-wl='send'></button></form></div>";
  function $(name) { return root.querySelector("[data-wl='" + name + "']"); }
  var panel = $("panel"), list = $("messages"), input = $("input"), statusEl = $("status");
  var emailForm = $("email-form"), emailInput = $("email"), errorEl = $("error");
  $("launcher").textContent = T.launcher;
  $("title").textContent = T.title;
  $("send").textContent = T.send;
  $("email-save").textContent = T.save;
  emailInput.placeholder = T.email_placeholder;
  input.placeholder = T.placeholder;

  var shown = {};  // message id or client id → element
  var welcomed = false, available = true, maxChars = 4000;

  function bubble(msg, pending) {
    var key = msg.id ? "id" + msg.id : "c" + msg.client_id;
    var el = shown[key] || (msg.client_id && shown["c" + msg.client_id]);
    if (!el) {
      el = document.createElement("div");
      list.appendChild(el);
    }
    el.className = "b " + (msg.author === "visitor" ? "v" : "a") + (pending ? " q" : "");
    el.textContent = "";
    if (msg.author !== "visitor" && msg.name) {
      var n = document.createElement("div");
      n.className = "n";
      n.textContent = msg.name;
      el.appendChild(n);
    }
    if (msg.card && msg.card.kind === "survey") el.appendChild(surveyCard(msg.card));
    else el.appendChild(document.createTextNode(msg.text));
    el.setAttribute("data-author", msg.author);
    if (msg.id) { shown["id" + msg.id] = el; el.setAttribute("data-id", msg.id); }
    if (msg.client_id) shown["c" + msg.client_id] = el;
    list.scrollTop = list.scrollHeight;
    if (msg.id && msg.author !== "visitor" && !pending) seen(msg.id);
  }

  // --- Survey card: score buttons that answer through the public survey endpoint ----
  var answered = {};  // token → thank-you text, so a re-render keeps the answer
  function el_(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function surveyCard(card) {
    var box = el_("div", "c");
    box.setAttribute("data-wl", "survey-card");
    box.appendChild(el_("div", "ct", card.title));
    var note = el_("div", "cn");
    note.setAttribute("data-wl", "survey-note");
    note.setAttribute("role", "status");
    var done = answered[card.token] || (card.answered ? card.thanks : "");
    if (done) {
      note.textContent = done;
      box.setAttribute("data-answered", "1");
      box.appendChild(note);
      return box;
    }
    var chosen = {}, busy = false, questions = card.questions || [];
    questions.forEach(function (q) {
      box.appendChild(el_("div", "cq", q.text));
      var row = el_("div", "cs");
      row.setAttribute("data-kind", q.kind);
      for (var v = q.min; v <= q.max; v++) {
        var b = el_("button", "", String(v));
        b.type = "button";
        b.setAttribute("data-score", String(v));
        b.setAttribute("aria-pressed", "false");
        b.addEventListener("click", pick(q.kind, v, row));
        row.appendChild(b);
      }
      box.appendChild(row);
      box.appendChild(el_("div", "cl", q.low + " \u2014 " + q.high));
    });
    box.appendChild(note);
    function pick(kind, value, row) {
      return function () {
        if (busy) return;
        chosen[kind] = value;
        Array.prototype.forEach.call(row.querySelectorAll("button"), function (b) {
          var on = b.getAttribute("data-score") === String(value);
          b.setAttribute("aria-pressed", on ? "true" : "false");
          b.classList.toggle("sel", on);
        });
        // Every question has a score: send the answer (one click for a single question).
        if (questions.every(function (q) { return chosen[q.kind] != null; })) submit();
      };
    }
    function finish(text) {
      answered[card.token] = text;
      box.setAttribute("data-answered", "1");
      Array.prototype.forEach.call(box.querySelectorAll(".cs,.cl"), function (n) { n.remove(); });
      note.textContent = text;
    }
    function submit() {
      busy = true;
      note.textContent = "";
      fetch(new URL(card.answer_path, src).href, {
        method: "POST", mode: "cors", credentials: "omit",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ scores: chosen })
      }).then(function (r) {
        return r.json().then(function (body) { return { status: r.status, body: body }; });
      }).then(function (res) {
        busy = false;
        if (res.status === 200) finish(res.body.thanks || card.thanks);
        else if (res.status === 409) finish(res.body.message || card.already);
        else note.textContent = res.body.message || T.error;
      }).catch(function () { busy = false; note.textContent = T.error; });
    }
    return box;
  }

  var seenQueue = [];
  function seen(id) {
    if (!panel.classList.contains("o")) { seenQueue.push(id); return; }
    send({ type: "seen", id: id });
  }

  var notice = "";
  function showStatus() {
    var text = "";
    if (!sock || sock.readyState !== 1 || !welcomed) text = T.connecting;
    else if (!available) text = T.offline;
    statusEl.textContent = notice ? (text ? text + " " : "") + notice : text;
    var needEmail = !state.email && (!available || state.askEmail);
    emailForm.classList.toggle("o", needEmail);
    $("email-note").textContent = available ? T.email_ask : T.offline_email;
  }

  // --- Socket -------------------------------------------------------------------
  var sock = null, delay = 500, timer = null;
  function send(frame) {
    if (sock && sock.readyState === 1) { sock.send(JSON.stringify(frame)); return true; }
    return false;
  }
  function connect() {
    clearTimeout(timer);
    try { sock = new WebSocket(wsUrl); } catch (e) { retry(); return; }
    sock.onopen = function () {
      delay = 500;
      send({ type: "hello", token: state.token || null });
    };
    sock.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === "welcome") {
        welcomed = true;
        state.token = f.token;
        if (f.email) state.email = f.email;
        available = f.agents_available;
        maxChars = f.max_chars || maxChars;
        input.maxLength = maxChars;
        save();
        f.messages.forEach(function (m) { bubble(m, false); });
        state.pending.forEach(function (p) {
          bubble({ author: "visitor", text: p.text, client_id: p.client_id }, true);
          send({ type: "message", text: p.text, client_id: p.client_id });
        });
      } else if (f.type === "ack") {
        state.pending = state.pending.filter(function (p) { return p.client_id !== f.client_id; });
        save();
        var el = shown["c" + f.client_id];
        if (el) { el.classList.remove("q"); shown["id" + f.id] = el; el.setAttribute("data-id", f.id); }
      } else if (f.type === "message") {
        bubble(f.message, false);
      } else if (f.type === "email_saved") {
        state.email = f.email; state.askEmail = false; save();
        emailInput.value = "";
        notice = T.email_thanks;
      } else if (f.type === "availability") {
        available = f.agents_available;
      } else if (f.type === "error") {
        errorEl.textContent = f.message || T.error;
        if (f.client_id && f.code === "server_error") {
          // Not stored: keep it pending; it is resent after the next reconnect.
          setTimeout(function () { if (sock) sock.close(); }, 2000);
        } else if (f.client_id) {
          state.pending = state.pending.filter(function (p) { return p.client_id !== f.client_id; });
          save();
          var bad = shown["c" + f.client_id];
          if (bad) bad.classList.add("q");
        }
      }
      showStatus();
    };
    sock.onclose = function (ev) {
      welcomed = false;
      showStatus();
      if (ev.code === 4429) { delay = 60000; }
      if (ev.code === 4403 || ev.code === 4404) {
        notice = T.refused;
        statusEl.textContent = T.refused;
        return;
      }
      retry();
    };
  }
  function retry() {
    // Back-off with jitter so a restarted server is not hit by every visitor at once.
    timer = setTimeout(connect, delay + Math.random() * delay);
    delay = Math.min(delay * 2, 15000);
  }

  function uid() {
    var a = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  $("compose").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    errorEl.textContent = "";
    if (!text) return;
    if (text.length > maxChars) { errorEl.textContent = T.too_long; return; }
    var p = { text: text, client_id: uid() };
    state.pending.push(p);
    save();
    bubble({ author: "visitor", text: text, client_id: p.client_id }, true);
    input.value = "";
    send({ type: "message", text: text, client_id: p.client_id });
    if (!available && !state.email) { state.askEmail = true; showStatus(); }
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      $("compose").dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  emailForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    errorEl.textContent = "";
    send({ type: "email", email: emailInput.value.trim() });
  });
  $("launcher").addEventListener("click", function () {
    panel.classList.toggle("o");
    if (panel.classList.contains("o")) {
      input.focus();
      seenQueue.splice(0).forEach(function (id) { send({ type: "seen", id: id }); });
    }
  });

  window.__warmlineChat = { open: function () { panel.classList.add("o"); } };
  function start() { document.body.appendChild(host); showStatus(); connect(); }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
