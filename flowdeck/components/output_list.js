// The Output tab's cards, one per agent that has started, in the order they started, then those of agents that
// ended without starting (skipped). One element draws them all as plain DOM, from batches of changes
// (flowdeck/components/outputs.py):
//   ["reset"]                                  no cards (a new run)
//   ["add", key, label, unstarted]             a new card at the end of the started agents' cards, or (unstarted)
//                                              at the very end
//   ["head", key, status, summary, streaming]  its status dot, summary, and whether its text is streaming
//   ["append", key, text], ["set", key, text]  its streamed text: grown in place, or started over
//   ["done", key, html, text]                  its finished text: markdown as HTML, and the text to copy
//   ["round", key, index, summary, html]       an earlier round of a loop, under the latest, latest first: folded,
//                                              its markdown drawn when first opened
// A Vue component and a NiceGUI element per card cost the page ~0.3 s when 270 agents started at once and
// again when they finished (270 streaming, side by side: 46 fps with them, 57 with no cards at all).
// Model text never becomes markup: streamed text is text, and the HTML was cleaned on the server by an allow-list
// (markup.py) and goes through NiceGUI's setHTML (DOMPurify) as well. Markdown is drawn only for cards on screen
// or near it: 250 agents finishing at once would otherwise take ~0.5 s of the page's time for cards nobody is
// looking at.
// Cards go in groups of GROUP, each skipped by layout while off screen (content-visibility, as each card is):
// with 250 agents streaming, laying out 250 skipped cards one by one still took ~4 ms of every frame.
const GROUP = 20;
const EMPTY = "Outputs appear here as agents work.";

const shell = document.createElement("template");
shell.innerHTML =
  '<section class="fd-card"><div class="fd-card-head"><span class="fd-dot" aria-hidden="true"></span>' +
  '<span class="fd-card-label"></span><span class="fd-card-summary"></span>' +
  '<button type="button" class="fd-copy" title="Copy"><span class="material-icons" aria-hidden="true">' +
  'content_copy</span></button></div><div class="fd-stream" hidden></div><div class="fd-output" hidden></div>' +
  '<div class="fd-rounds" hidden></div></section>';

const roundShell = document.createElement("template");
roundShell.innerHTML = '<details class="fd-round"><summary></summary><div class="fd-output"></div></details>';
const roundHtml = new WeakMap(); // details element -> its markdown as HTML, drawn when first opened

const cardOf = new WeakMap(); // section element -> card
const nearScreen = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      const card = cardOf.get(entry.target);
      if (!card) continue;
      card.inView = entry.isIntersecting;
      draw(card);
    }
  },
  { rootMargin: "400px 0px" },
);

function draw(card) {
  if (card.html === card.shown) return;
  if (!card.inView) {
    // Watched only while it has something to draw: 250 cards watched all the time cost ~2 ms a frame.
    nearScreen.observe(card.el);
    return;
  }
  nearScreen.unobserve(card.el);
  card.inView = false; // known only while watched: the next change asks the observer again
  if (card.html) card.output.setHTML(card.html);
  else card.output.replaceChildren();
  card.shown = card.html;
}

function showBodies(card) {
  card.stream.hidden = !card.streaming;
  card.output.hidden = card.streaming || !card.html;
}

function copyText(text) {
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
}

export default {
  template: `<div class="fd-cards"></div>`,
  mounted() {
    this.cards = new Map();
    this.group = null;
    this.empty = document.createElement("div");
    this.empty.className = "text-sm text-gray-500";
    this.empty.textContent = EMPTY;
    this.tail = document.createElement("div"); // the cards of agents that never started
    this.tail.className = "fd-card-group";
    this.$el.append(this.empty, this.tail);
    this.onClick = (event) => {
      const button = event.target.closest(".fd-copy");
      const card = button && cardOf.get(button.closest(".fd-card"));
      if (card) copyText(card.streaming ? card.stream.textContent : card.text);
    };
    this.$el.addEventListener("click", this.onClick);
    this.onToggle = (event) => {
      const round = event.target;
      if (!round.open || !roundHtml.has(round)) return;
      const html = roundHtml.get(round);
      roundHtml.delete(round);
      if (html) round.lastChild.setHTML(html);
    };
    this.$el.addEventListener("toggle", this.onToggle, true); // toggle does not bubble
  },
  beforeUnmount() {
    this.$el.removeEventListener("click", this.onClick);
    this.$el.removeEventListener("toggle", this.onToggle, true);
    for (const card of this.cards.values()) nearScreen.unobserve(card.el);
  },
  methods: {
    apply(packed) {
      for (const op of JSON.parse(packed)) {
        if (op[0] === "reset") {
          this.reset();
          continue;
        }
        const card = op[0] === "add" ? this.add(op[1], op[2], op[3]) : this.cards.get(op[1]);
        if (!card) continue;
        if (op[0] === "head") {
          card.el.dataset.status = op[2];
          card.summary.textContent = op[3];
          card.streaming = op[4];
          showBodies(card);
        } else if (op[0] === "append") {
          const last = card.stream.lastChild;
          if (last?.nodeType === Node.TEXT_NODE) last.appendData(op[2]); // Chromium lays out only what was added
          else card.stream.append(op[2]);
        } else if (op[0] === "set") {
          card.stream.textContent = op[2];
        } else if (op[0] === "round") {
          this.addRound(card, op[2], op[3], op[4]);
        } else if (op[0] === "done") {
          card.stream.textContent = "";
          card.html = op[2];
          card.text = op[3];
          showBodies(card);
          draw(card);
        }
      }
    },
    addRound(card, index, summary, html) {
      const el = roundShell.content.firstChild.cloneNode(true);
      el.dataset.round = index;
      el.firstChild.textContent = summary;
      roundHtml.set(el, html);
      card.rounds.prepend(el); // latest first
      card.rounds.hidden = false;
    },
    reset() {
      for (const card of this.cards.values()) nearScreen.unobserve(card.el);
      this.cards.clear();
      this.group = null;
      this.tail.replaceChildren();
      this.$el.replaceChildren(this.empty, this.tail);
      this.empty.hidden = false;
    },
    add(key, label, unstarted) {
      const el = shell.content.firstChild.cloneNode(true);
      el.setAttribute("aria-label", `Output of ${label}`);
      el.dataset.status = "queued";
      const [head, stream, output, rounds] = el.children;
      head.children[1].textContent = label;
      head.children[3].setAttribute("aria-label", `Copy the output of ${label}`);
      const card = { el, stream, output, rounds, summary: head.children[2], streaming: false, html: "", shown: "", text: "", inView: false };
      if (unstarted) {
        this.tail.append(el);
      } else {
        if (!this.group || this.group.childElementCount === GROUP) {
          this.group = document.createElement("div");
          this.group.className = "fd-card-group";
          this.$el.insertBefore(this.group, this.tail);
        }
        this.group.append(el);
      }
      this.empty.hidden = true;
      cardOf.set(el, card);
      this.cards.set(key, card);
      return card;
    },
  },
};
