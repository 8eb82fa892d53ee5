// The run log: every event as a line, virtualized (only the visible rows are in the DOM), filterable by
// agent, level and text. An agent that ran more than once (a loop) is named with each line's round, "Reviewer
// (round 2)", and its filter keeps every round. It follows new lines until the user scrolls up, and offers to jump back.
const LEVELS = ["debug", "info", "warning", "error"];

export default {
  template: `
    <div class="fd-log">
      <div class="fd-log-bar">
        <q-select dense outlined emit-value map-options v-model="agent" :options="agentOptions"
          label="Agent" class="fd-log-filter" />
        <q-select dense outlined emit-value map-options v-model="level" :options="levelOptions"
          label="Level" class="fd-log-filter" />
        <q-input dense outlined clearable v-model="query" label="Search the log" class="fd-log-search" />
        <span class="fd-log-count" aria-live="off">{{ shown.length }} of {{ total }} lines</span>
        <q-btn v-if="!follow" dense flat no-caps icon="south" label="Jump to latest" @click="jump" />
      </div>
      <q-virtual-scroll ref="scroller" class="fd-log-lines" role="log" aria-label="Run log"
        :items="shown" :virtual-scroll-item-size="22" v-slot="{ item }">
        <div :key="item.seq" class="fd-log-line" :data-level="item.level" :title="item.text">
          <span class="fd-log-time">{{ item.time }}</span>
          <span class="fd-log-agent"><span class="fd-log-name">{{ item.agent }}</span><span
            class="fd-log-round">{{ roundText(item) }}</span></span>
          <span class="fd-log-level">{{ item.level }}</span>
          <span class="fd-log-text">{{ item.text }}</span>
        </div>
      </q-virtual-scroll>
    </div>`,
  data() {
    // A frozen holder is never made reactive: 100,000 lines must not become 100,000 proxies.
    return { store: Object.freeze({ lines: [], agents: new Set(), rounds: new Map() }), hidden: true, version: 0, agent: "", level: "info", query: "", follow: true, agents: [] };
  },
  mounted() {
    this.scrollEl = this.$refs.scroller.$el;
    this.endAskedAt = -Infinity; // when toEnd() last asked the scroller to go to the end
    this.readAt = 0; // where the reader last scrolled to, away from the end
    this.jumpedAt = -Infinity; // when the reader clicked Jump to latest
    this.onScroll = () => {
      const el = this.scrollEl;
      const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - 30;
      if (performance.now() - this.jumpedAt < 300) {
        // The scroller passes through other positions on its way to the end: they are not the reader scrolling.
        if (atEnd) this.follow = true;
        return;
      }
      if (atEnd && !this.follow && performance.now() - this.endAskedAt < 150) {
        // QVirtualScroll moves to the end a frame after it is asked (and reads scroll events 35 ms late): a move
        // asked for just before the reader scrolled up lands after it. Put the reader back where they were.
        el.scrollTop = this.readAt;
        return;
      }
      if (!atEnd) this.readAt = el.scrollTop;
      this.follow = atEnd;
    };
    this.scrollEl.addEventListener("scroll", this.onScroll, { passive: true });
  },
  beforeUnmount() {
    this.scrollEl?.removeEventListener("scroll", this.onScroll);
  },
  computed: {
    total() {
      this.version;
      return this.store.lines.length;
    },
    agentOptions() {
      return [{ label: "All agents", value: "" }, ...this.agents.map((a) => ({ label: a, value: a }))];
    },
    levelOptions() {
      return [
        { label: "Everything (with tokens)", value: "debug" },
        { label: "Info and above", value: "info" },
        { label: "Warnings and errors", value: "warning" },
        { label: "Errors", value: "error" },
      ];
    },
    shown() {
      this.version;
      const min = LEVELS.indexOf(this.level);
      const query = (this.query || "").toLowerCase();
      const agent = this.agent;
      if (min <= 0 && !query && !agent) return this.store.lines.slice();
      return this.store.lines.filter(
        (line) =>
          LEVELS.indexOf(line.level) >= min &&
          (!agent || line.agent === agent) &&
          (!query || line.text.toLowerCase().includes(query) || this.agentName(line).toLowerCase().includes(query)),
      );
    },
  },
  watch: {
    shown() {
      if (this.follow) this.$nextTick(() => this.toEnd());
    },
  },
  methods: {
    append(packed) {
      // [[seq, time, agent, level, text, round?], ...] as a JSON string (flowdeck/components/wire.py).
      const rounds = this.store.rounds;
      for (const [seq, time, agent, level, text, round] of JSON.parse(packed)) {
        const line = { seq, time, agent, level, text, round: round || 0 };
        this.store.lines.push(line);
        if (line.round > (rounds.get(agent) || 0)) rounds.set(agent, line.round);
        if (!this.store.agents.has(line.agent)) {
          this.store.agents.add(line.agent);
          this.agents.push(line.agent);
        }
      }
      // While the log is hidden (another tab is shown), nothing is re-rendered or scrolled: reveal() catches up.
      if (this.hidden) this.stale = true;
      else this.version++;
    },
    reset() {
      this.store.lines.length = 0;
      this.store.agents.clear();
      this.store.rounds.clear();
      this.agents = [];
      this.version++;
    },
    roundText(line) {
      // Every line of an agent names its round once the agent has a second one (its earlier lines too).
      return line.round && this.store.rounds.get(line.agent) > 1 ? ` (round ${line.round})` : "";
    },
    agentName(line) {
      return line.agent + this.roundText(line);
    },
    conceal() {
      this.hidden = true;
    },
    reveal() {
      this.hidden = false;
      if (this.stale) {
        this.stale = false;
        this.version++;
      }
      if (this.follow) this.$nextTick(() => this.toEnd());
    },
    jump() {
      this.follow = true;
      this.jumpedAt = performance.now();
      this.toEnd();
    },
    toEnd() {
      if (!this.shown.length) return;
      this.endAskedAt = performance.now();
      this.$refs.scroller.scrollTo(this.shown.length - 1, "end");
    },
  },
};
