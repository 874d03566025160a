// Chat actions behind "More Actions" (invite, transfer, leave, Email Transcript, Whisper) and "End Session".
import { fetchAll } from "../lib/api.js";
import { byId, el, replaceChildren } from "../lib/dom.js";

export class ChatActions {
  /**
   * ctx: {api, me(), current() -> chat view, applyChat(chat), notify, groupName(id), canWhisper(chat),
   *       canEmailTranscript(chat), whisper(): opens the whisper form}
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.more = byId("more");
    this.menu = byId("more-menu");
    this.inviteDialog = byId("invite-dialog");
    this.transferDialog = byId("transfer-dialog");
    this.endDialog = byId("end-dialog");
    for (const dialog of [this.inviteDialog, this.transferDialog, this.endDialog]) {
      dialog.querySelector(".js-close").addEventListener("click", () => dialog.close());
    }
    this.bindMenu();
    byId("invite-open").addEventListener("click", () => this.openInvite());
    byId("transfer-open").addEventListener("click", () => this.openTransfer());
    byId("leave-chat").addEventListener("click", () => this.leave());
    byId("email-transcript").addEventListener("click", () => this.emailTranscript());
    byId("whisper-open").addEventListener("click", () => this.ctx.whisper());
    byId("invite-form").addEventListener("submit", (e) => this.invite(e));
    byId("transfer-form").addEventListener("submit", (e) => this.transfer(e));
    byId("end-session").addEventListener("click", () => this.endDialog.showModal());
    byId("end-confirm").addEventListener("click", () => this.end());
  }

  // ---- menu ----

  bindMenu() {
    this.more.addEventListener("click", () => (this.menu.hidden ? this.openMenu() : this.closeMenu()));
    this.more.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown") {
        event.preventDefault();
        this.openMenu();
      }
    });
    this.menu.addEventListener("keydown", (event) => {
      const items = [...this.menu.querySelectorAll("li:not([hidden]) [role=menuitem]")];
      const index = items.indexOf(document.activeElement);
      if (event.key === "ArrowDown") items[(index + 1) % items.length].focus();
      else if (event.key === "ArrowUp") items[(index - 1 + items.length) % items.length].focus();
      else if (event.key === "Escape") {
        this.closeMenu();
        this.more.focus();
      } else return;
      event.preventDefault();
    });
    this.menu.addEventListener("click", () => this.closeMenu());
    document.addEventListener("click", (event) => {
      if (!this.menu.hidden && !event.target.closest(".menu-wrap")) this.closeMenu();
    });
  }

  openMenu() {
    // The owner transfers; an invited technician may leave; after the end only Email Transcript is left.
    const view = this.ctx.current();
    const me = this.ctx.me();
    const chat = view?.chat;
    const active = chat?.state === "active";
    const inChat = Boolean(chat && (chat.participant_ids || []).includes(me.id));
    const owner = Boolean(chat && chat.owner_id === me.id);
    const admin = me.role === "admin";
    byId("invite-open").parentElement.hidden = !(active && (inChat || admin));
    byId("transfer-open").parentElement.hidden = !(active && (owner || admin));
    byId("leave-chat").parentElement.hidden = !(active && inChat && !owner);
    byId("email-transcript").parentElement.hidden = !(chat && this.ctx.canEmailTranscript(chat));
    byId("whisper-open").parentElement.hidden = !(chat && this.ctx.canWhisper(chat));
    this.menu.hidden = false;
    this.more.setAttribute("aria-expanded", "true");
    this.menu.querySelector("li:not([hidden]) [role=menuitem]")?.focus();
  }

  closeMenu() {
    this.menu.hidden = true;
    this.more.setAttribute("aria-expanded", "false");
  }

  // ---- invite ----

  async onlineTechnicians() {
    const me = this.ctx.me();
    const techs = await fetchAll(this.ctx.api, "/technicians", { online: "true" });
    return techs.filter((t) => t.id !== me.id && t.online !== false);
  }

  /** A refusal inside the open dialog (the page's notice sits behind a modal dialog), e.g. 409 at_capacity. */
  dialogError(name, text) {
    const box = byId(`${name}-error`);
    box.textContent = text || "";
    box.hidden = !text;
  }

  async openInvite() {
    const view = this.ctx.current();
    if (!view) return;
    this.dialogError("invite", "");
    const box = byId("invite-options");
    replaceChildren(box, el("p", { className: "muted" }, "Loading…"));
    this.inviteDialog.showModal();
    let techs;
    try {
      techs = await this.onlineTechnicians();
    } catch (err) {
      replaceChildren(box, el("p", { className: "notice" }, err.message));
      return;
    }
    const inChat = new Set(view.chat.participant_ids || []);
    const eligible = techs.filter((t) => !inChat.has(t.id));
    byId("invite-submit").disabled = !eligible.length;
    if (!eligible.length) {
      replaceChildren(box, el("p", { className: "empty" }, "No other technician is online right now."));
      return;
    }
    replaceChildren(box, eligible.map((t) => this.choice("invite-tech", String(t.id), t)));
    box.querySelector("input")?.focus();
  }

  choice(name, value, tech, groupId = null) {
    const id = `${name}-${value.replace(":", "-")}`;
    const groups = (tech.group_ids || []).map((g) => this.ctx.groupName(g)).join(", ");
    const load = `${tech.active_chats || 0} active chat${tech.active_chats === 1 ? "" : "s"}`;
    return el(
      "div",
      { className: "choice" },
      el("input", { type: "radio", name, id, value }),
      el(
        "label",
        { for: id },
        el("span", { className: "choice__name" }, tech.name),
        el("span", { className: "choice__meta muted small" }, groupId === null && groups ? `${groups} · ${load}` : load),
      ),
    );
  }

  async invite(event) {
    event.preventDefault();
    const view = this.ctx.current();
    const picked = byId("invite-form").querySelector("input[name=invite-tech]:checked");
    if (!view || !picked) {
      this.ctx.notify("Choose a technician to invite.");
      return;
    }
    try {
      const chat = await this.ctx.api.post(`/chats/${view.chat.id}/invite`, { technician_id: Number(picked.value) });
      this.inviteDialog.close();
      this.ctx.applyChat(chat);
      this.ctx.notify("Invitation sent.", { kind: "ok" });
    } catch (err) {
      this.dialogError("invite", err.message);
      this.ctx.notify(err.message);
    }
  }

  // ---- transfer ----

  async openTransfer() {
    const view = this.ctx.current();
    if (!view) return;
    this.dialogError("transfer", "");
    const box = byId("transfer-options");
    replaceChildren(box, el("p", { className: "muted" }, "Loading…"));
    this.transferDialog.showModal();
    let techs;
    let groups;
    try {
      [techs, groups] = await Promise.all([this.onlineTechnicians(), fetchAll(this.ctx.api, "/groups")]);
    } catch (err) {
      replaceChildren(box, el("p", { className: "notice" }, err.message));
      return;
    }
    const sections = groups
      .map((group) => {
        const members = techs.filter((t) => (t.group_ids || []).includes(group.id));
        if (!members.length) return null;
        return el(
          "fieldset",
          { className: "choices__group" },
          el("legend", {}, group.name),
          members.map((t) => this.choice("transfer-target", `${t.id}:${group.id}`, t, group.id)),
        );
      })
      .filter(Boolean);
    byId("transfer-submit").disabled = !sections.length;
    if (!sections.length) {
      replaceChildren(box, el("p", { className: "empty" }, "No other technician is online right now."));
      return;
    }
    replaceChildren(box, sections);
    box.querySelector("input")?.focus();
  }

  async transfer(event) {
    event.preventDefault();
    const view = this.ctx.current();
    const picked = byId("transfer-form").querySelector("input[name=transfer-target]:checked");
    if (!view || !picked) {
      this.ctx.notify("Choose a technician to transfer to.");
      return;
    }
    const [technicianId, groupId] = picked.value.split(":").map(Number);
    try {
      const chat = await this.ctx.api.post(`/chats/${view.chat.id}/transfer`, {
        technician_id: technicianId,
        group_id: groupId,
      });
      this.transferDialog.close();
      this.ctx.applyChat(chat);
      this.ctx.notify("Chat transferred.", { kind: "ok" });
    } catch (err) {
      this.dialogError("transfer", err.message);
      this.ctx.notify(err.message);
    }
  }

  // ---- leave ----

  async leave() {
    const view = this.ctx.current();
    if (!view) return;
    try {
      this.ctx.applyChat(await this.ctx.api.post(`/chats/${view.chat.id}/leave`));
      this.ctx.notify("You left the chat.", { kind: "info" });
    } catch (err) {
      this.ctx.notify(err.message);
    }
  }

  // ---- transcript by email ----

  async emailTranscript() {
    const view = this.ctx.current();
    if (!view) return;
    const chat = view.chat;
    try {
      await this.ctx.api.post(`/chats/${chat.id}/transcript-email`);
      const email = chat.requester?.email;
      this.ctx.notify(email ? `Transcript emailed to ${email}.` : "Transcript emailed to the requester.", { kind: "ok" });
    } catch (err) {
      this.ctx.notify(err.message);
    }
  }

  // ---- end ----

  async end() {
    const view = this.ctx.current();
    if (!view) return;
    const button = byId("end-confirm");
    button.disabled = true;
    try {
      const chat = await this.ctx.api.post(`/chats/${view.chat.id}/end`);
      this.endDialog.close();
      this.ctx.applyChat(chat);
    } catch (err) {
      this.endDialog.close();
      this.ctx.notify(err.message);
    } finally {
      button.disabled = false;
    }
  }
}
