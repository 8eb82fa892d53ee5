// Applies streamed deltas to output cards: [[element id, "append" | "set", text], ...] (a JSON string, see
// flowdeck/components/wire.py), in order. The server
// sends only the new parts of texts, and all of one flush's parts in one message (a message per agent and
// update lagged past ~1,000 updates/s).
export default {
  template: `<span hidden></span>`,
  methods: {
    apply(packed) {
      for (const [id, mode, text] of JSON.parse(packed)) {
        const stream = getHtmlElement(id)?.querySelector(".fd-stream");
        if (!stream) continue;
        if (mode === "append") stream.append(document.createTextNode(text));
        else stream.textContent = text;
      }
    },
  },
};
