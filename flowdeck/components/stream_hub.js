// Applies streamed deltas to the stream elements: [[element id, "append" | "set", text], ...], in order.
// The server sends only the new parts of texts, and all of one flush's parts in one message (a message per
// agent and update lagged past ~1,000 updates/s).
export default {
  template: `<span hidden></span>`,
  methods: {
    apply(batch) {
      for (const [id, mode, text] of batch) {
        const el = getHtmlElement(id);
        if (!el) continue;
        if (mode === "append") el.append(document.createTextNode(text));
        else el.textContent = text;
      }
    },
  },
};
