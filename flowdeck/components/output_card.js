// One agent's output: a header (status dot, name, summary, copy button), the text while it streams (written
// by the hub, stream_hub.js, never by Vue), and the finished text as markdown, sanitized by DOMPurify
// (NiceGUI's setHTML): model text never becomes markup. One element per agent instead of eight: opening a
// page on a run of 200 agents built 1,600 elements before.
// Markdown is sanitized and drawn only for cards on screen or near it: 250 agents finishing at once would
// otherwise take ~0.5 s of the page's time for cards nobody is looking at. The others draw when scrolled to.
const cards = new WeakMap();
const nearScreen = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      const card = cards.get(entry.target);
      if (!card) continue;
      card.inView = entry.isIntersecting;
      card.render();
    }
  },
  { rootMargin: "400px 0px" },
);

export default {
  template: `
    <section class="fd-card" :data-status="status" :aria-label="'Output of ' + label">
      <div class="fd-card-head">
        <span class="fd-dot" aria-hidden="true"></span>
        <span class="fd-card-label">{{ label }}</span>
        <span class="fd-card-summary">{{ summary }}</span>
        <button type="button" class="fd-copy" :aria-label="'Copy the output of ' + label" title="Copy" @click="copy">
          <span class="material-icons" aria-hidden="true">content_copy</span>
        </button>
      </div>
      <div class="fd-stream" v-show="streaming"></div>
      <div class="fd-output" v-show="!streaming && html" ref="body"></div>
    </section>`,
  props: { label: String, status: String, summary: String, streaming: Boolean, html: String, text: String },
  mounted() {
    this.shown = "";
    this.inView = false;
    cards.set(this.$el, this);
    this.render();
  },
  beforeUnmount() {
    nearScreen.unobserve(this.$el);
  },
  updated() {
    this.render();
  },
  methods: {
    render() {
      const html = this.html || "";
      if (html === this.shown) return;
      if (!this.inView) {
        // Watched only while it has something to draw: 250 cards watched all the time cost ~2 ms a frame.
        nearScreen.observe(this.$el);
        return;
      }
      nearScreen.unobserve(this.$el);
      this.inView = false; // known only while watched: the next change asks the observer again
      if (html) this.$refs.body.setHTML(html);
      else this.$refs.body.replaceChildren();
      this.shown = html;
    },
    copy() {
      const text = this.streaming ? this.$el.querySelector(".fd-stream").textContent : this.text || "";
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text);
        return;
      }
      // Plain http on a LAN address is not a secure context: no Clipboard API there.
      const area = document.createElement("textarea");
      area.value = text;
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    },
  },
};
