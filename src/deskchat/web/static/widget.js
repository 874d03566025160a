/*
 * deskchat widget: <script src="https://deskchat.example/widget.js"></script>
 * Adds a "Chat with us" launcher that opens the deskchat /chat page in an iframe.
 * Styles are set from script so the host page needs no CSS; the chat itself (and the
 * visitor token, in the deskchat origin's own storage) lives inside the iframe: this page never
 * holds the token. From the frame comes only "a technician wrote" (no content), posted to this
 * page's origin; to the frame goes only the portal's identity token, if there is one:
 *
 * A portal that knows who its user is adds data-identity-token="<JWT signed with DESKCHAT_IDENTITY_SECRET>":
 * the token is posted to the iframe (target: the deskchat origin exactly) once it has loaded, never put
 * in its URL; the chat page exchanges it for the verified requester's visitor token.
 */
(function () {
  "use strict";
  if (window.__deskchatWidget) return;
  window.__deskchatWidget = true;

  var script = document.currentScript;
  var origin;
  try {
    origin = new URL(script && script.src ? script.src : "/", location.href).origin;
  } catch (e) {
    return;
  }
  var ACCENT = (script && script.getAttribute("data-color")) || "#2456c9";
  var IDENTITY = (script && script.getAttribute("data-identity-token")) || "";
  var Z = 2147483000;
  var frame = null;
  var panel = null;
  var launcher = null;
  var isOpen = false;
  var dot = null;
  var SVG_NS = "http://www.w3.org/2000/svg";

  function bubbleIcon() {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute(
      "d",
      "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-4.2 3.4A.5.5 0 0 1 4 21v-3a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"
    );
    svg.appendChild(path);
    return svg;
  }

  function css(node, styles) {
    for (var key in styles) node.style[key] = styles[key];
    return node;
  }

  function panelSize() {
    var small = window.innerWidth < 480;
    return small
      ? { right: "0", bottom: "0", width: "100vw", height: "100vh", borderRadius: "0" }
      : { right: "20px", bottom: "84px", width: "380px", height: "min(600px, calc(100vh - 110px))", borderRadius: "14px" };
  }

  function buildPanel() {
    panel = css(document.createElement("div"), {
      position: "fixed",
      zIndex: String(Z),
      background: "#ffffff",
      boxShadow: "0 12px 40px rgba(16,24,40,0.28)",
      overflow: "hidden",
      display: "none",
      flexDirection: "column",
      border: "1px solid rgba(16,24,40,0.12)",
    });
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "Chat with IT support");
    panel.id = "deskchat-widget-panel";

    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "\u00d7";
    close.setAttribute("aria-label", "Close chat");
    css(close, {
      position: "absolute",
      top: "10px",
      right: "10px",
      width: "32px",
      height: "32px",
      border: "none",
      borderRadius: "50%",
      background: "rgba(255,255,255,0.22)",
      color: "#ffffff",
      font: "600 20px/32px system-ui, sans-serif",
      cursor: "pointer",
      padding: "0",
      zIndex: "2",
    });
    close.addEventListener("click", function () {
      toggle(false);
      launcher.focus();
    });

    frame = document.createElement("iframe");
    // `host` tells the chat page whom to talk to; the server frames it only for an allowed host
    // (Content-Security-Policy frame-ancestors), so a wrong value just leaves the panel empty.
    var host = location.origin && location.origin !== "null" ? "&host=" + encodeURIComponent(location.origin) : "";
    // `identity=1` only says a token will follow by postMessage; the token never goes in the URL.
    frame.src = origin + "/chat?embed=1" + host + (IDENTITY && host ? "&identity=1" : "");
    if (IDENTITY && host) frame.addEventListener("load", sendIdentity);
    frame.title = "Chat with IT support";
    frame.setAttribute("allow", "clipboard-write");
    css(frame, { border: "0", width: "100%", height: "100%", display: "block", background: "#ffffff" });

    panel.appendChild(close);
    panel.appendChild(frame);
    document.body.appendChild(panel);
  }

  // After every load of the frame (it asks only at its start). The explicit target origin means a
  // frame that is not (or no longer) the deskchat page never receives the token.
  function sendIdentity() {
    try {
      frame.contentWindow.postMessage({ type: "deskchat:identity", identity_token: IDENTITY }, origin);
    } catch (e) {
      /* the frame is gone: nothing to tell */
    }
  }

  function place() {
    if (!panel) return;
    var size = panelSize();
    css(panel, size);
  }

  function toggle(open) {
    isOpen = open === undefined ? !isOpen : open;
    if (isOpen && !panel) buildPanel();
    if (panel) {
      place();
      panel.style.display = isOpen ? "flex" : "none";
    }
    launcher.setAttribute("aria-expanded", String(isOpen));
    if (isOpen && dot) dot.style.display = "none";
    launcher.style.display = isOpen && window.innerWidth < 480 ? "none" : "flex";
    if (isOpen && frame) frame.focus();
  }

  function fromChat(event) {
    if (!frame || event.source !== frame.contentWindow || event.origin !== origin || !event.data) return;
    // A technician wrote while the panel is closed: a small dot on the launcher.
    if (event.data.type === "deskchat:message" && !isOpen && dot) dot.style.display = "block";
  }

  // Earlier versions kept a copy of the visitor token here when the iframe had no storage: drop it.
  function dropOldCopies() {
    try {
      for (var i = localStorage.length - 1; i >= 0; i--) {
        var key = localStorage.key(i);
        if (key && key.indexOf("deskchat-widget:") === 0) localStorage.removeItem(key);
      }
    } catch (e) {
      /* no storage here: nothing to drop */
    }
  }

  window.addEventListener("message", fromChat);
  dropOldCopies();

  function buildLauncher() {
    launcher = document.createElement("button");
    launcher.type = "button";
    launcher.id = "deskchat-launcher";
    launcher.appendChild(bubbleIcon());
    launcher.appendChild(document.createTextNode("Chat with us"));
    dot = css(document.createElement("span"), {
      display: "none",
      position: "absolute",
      top: "2px",
      right: "4px",
      width: "12px",
      height: "12px",
      borderRadius: "50%",
      background: "#e5484d",
      border: "2px solid #ffffff",
    });
    dot.setAttribute("aria-hidden", "true");
    launcher.appendChild(dot);
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "deskchat-widget-panel");
    css(launcher, {
      position: "fixed",
      right: "20px",
      bottom: "20px",
      zIndex: String(Z),
      display: "flex",
      alignItems: "center",
      gap: "8px",
      padding: "12px 20px",
      border: "none",
      borderRadius: "999px",
      background: ACCENT,
      color: "#ffffff",
      font: "600 15px/1.2 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
      boxShadow: "0 6px 20px rgba(16,24,40,0.25)",
      cursor: "pointer",
      letterSpacing: "0",
      textTransform: "none",
      margin: "0",
      width: "auto",
      height: "auto",
    });
    launcher.addEventListener("click", function () {
      toggle();
    });
    launcher.addEventListener("focus", function () {
      launcher.style.outline = "3px solid #1a73e8";
      launcher.style.outlineOffset = "3px";
    });
    launcher.addEventListener("blur", function () {
      launcher.style.outline = "none";
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && isOpen) {
        toggle(false);
        launcher.focus();
      }
    });
    window.addEventListener("resize", place);
    document.body.appendChild(launcher);
  }

  if (document.body) buildLauncher();
  else document.addEventListener("DOMContentLoaded", buildLauncher);
})();
