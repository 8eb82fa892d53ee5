// Applies streamed deltas to output cards: [[element id, "append" | "set", text], ...] (a JSON string, see
// flowdeck/components/wire.py), in order. The server
// sends only the new parts of texts, and all of one flush's parts in one message (a message per agent and
// update lagged past ~1,000 updates/s). A card's streamed text is one text node, grown in place: Chromium then
// lays out and paints only what was added (a node per delta, 60 per agent, had it redo the whole text each time;
// 270 agents streaming, traced side by side: layout 3.0-3.8 -> 2.3-3.3 ms and paint 3.5-3.8 -> 1.3-2.1 ms a frame).
export default {
  template: `<span hidden></span>`,
  methods: {
    apply(packed) {
      for (const [id, mode, text] of JSON.parse(packed)) {
        const stream = getHtmlElement(id)?.querySelector(".fd-stream");
        if (!stream) continue;
        if (mode !== "append") stream.textContent = text;
        else if (stream.lastChild?.nodeType === Node.TEXT_NODE) stream.lastChild.appendData(text);
        else stream.append(text);
      }
    },
  },
};
