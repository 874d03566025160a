// One chat's timeline on the client: delivers messages in seq order, each exactly once,
// and fills gaps from the REST API when a frame arrives ahead of what we have.

export class SeqTimeline {
  /**
   * fetchAfter(seq) -> Promise<message[]>: messages after seq, in order.
   * onMessage(message, {live}) renders one message.
   */
  constructor({ fetchAfter, onMessage, lastSeq = 0 }) {
    this.fetchAfter = fetchAfter;
    this.onMessage = onMessage;
    this.lastSeq = lastSeq;
    this.pending = new Map();
    this.filling = null;
    this.refill = false;
    this.loaded = false;
  }

  /** Offer a message (from a frame, an ack or a REST answer). Returns true if it was new. */
  accept(message, live = true) {
    const seq = Number(message?.seq);
    if (!Number.isInteger(seq) || seq <= this.lastSeq || this.pending.has(seq)) return false;
    if (seq !== this.lastSeq + 1) {
      this.pending.set(seq, message);
      this.fill();
      return true;
    }
    this.deliver(message, live);
    while (this.pending.has(this.lastSeq + 1)) {
      const next = this.pending.get(this.lastSeq + 1);
      this.pending.delete(this.lastSeq + 1);
      this.deliver(next, live);
    }
    return true;
  }

  deliver(message, live) {
    this.lastSeq = message.seq;
    this.onMessage(message, { live: live && this.loaded });
  }

  /** Load everything after lastSeq (first load, a gap, or after a reconnect). */
  fill() {
    if (this.filling) {
      this.refill = true;
      return this.filling;
    }
    this.filling = (async () => {
      let failed = false;
      try {
        let rounds = 0;
        do {
          this.refill = false;
          const before = this.lastSeq;
          const messages = await this.fetchAfter(this.lastSeq);
          for (const message of messages) this.accept(message, this.loaded);
          if (this.lastSeq === before) break;
          rounds += 1;
        } while (this.refill && rounds < 20);
      } catch (err) {
        failed = true;
      } finally {
        this.filling = null;
        this.loaded = true;
        this.dropStalePending();
      }
      // A gap we could not fill yet: try again shortly rather than lose messages.
      if (this.pending.size || failed) setTimeout(() => this.pending.size && this.fill(), 3000);
    })();
    return this.filling;
  }

  dropStalePending() {
    for (const seq of this.pending.keys()) if (seq <= this.lastSeq) this.pending.delete(seq);
  }
}
