// Sign-in for the console, admin and requests pages (cookie session + CSRF header).
import { byId, createNotifier } from "./dom.js";

/**
 * Resolve with the signed-in technician, showing the login form first if needed.
 * The page must contain #login-view, #login-form, #login-email, #login-password,
 * #login-notice, #app-view, #logout and #user-name (and may contain #login-sso with #login-sso-link).
 */
export function signIn(api) {
  const loginView = byId("login-view");
  const appView = byId("app-view");
  const notify = createNotifier(byId("login-notice"));

  byId("logout").addEventListener("click", async () => {
    try {
      await api.post("/auth/logout");
    } finally {
      location.reload();
    }
  });

  const ready = (me) => {
    // Drop the sign-in form so its Email/Password fields never clash with the page's own.
    loginView.remove();
    appView.hidden = false;
    byId("user-name").textContent = me.name || me.email || "";
    const adminLink = document.getElementById("admin-link");
    if (adminLink) adminLink.hidden = me.role !== "admin";
    return me;
  };

  return new Promise((resolve) => {
    const form = byId("login-form");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const result = await api.post("/auth/login", {
          email: byId("login-email").value.trim(),
          password: byId("login-password").value,
        });
        notify("");
        byId("login-password").value = "";
        resolve(ready(result.technician || (await api.get("/me"))));
      } catch (err) {
        notify(err.status === 401 ? "Email or password is not correct." : err.message, { timeout: 0 });
        byId("login-password").select();
      } finally {
        button.disabled = false;
      }
    });

    api
      .get("/me")
      .then((me) => {
        if (me && me.role) resolve(ready(me));
        else showLogin();
      })
      .catch(() => showLogin());

    function showLogin() {
      appView.hidden = true;
      loginView.hidden = false;
      byId("login-email").focus();
      offerSso();
    }

    // Single sign-on, when the server has it: back to this very page afterwards.
    async function offerSso() {
      const sso = document.getElementById("login-sso");
      if (!sso) return;
      try {
        const providers = await api.get("/auth/providers");
        if (!providers?.oidc) return;
        const next = encodeURIComponent(location.pathname + location.search);
        byId("login-sso-link").href = `/api/v1/auth/oidc/login?audience=technician&next=${next}`;
        sso.hidden = false;
      } catch (err) {
        // no single sign-on offered: the password form is there
      }
    }
  });
}
