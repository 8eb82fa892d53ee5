import { mount } from "flowdeck-prompt-editor";

// The prompt template editor (src/index.js) with its "Raw" switch: raw text without chips, remembered in this
// browser. The text itself is always the raw template; the switch only changes how it is shown.
const RAW_KEY = "flowdeck.promptRaw";

export default {
  template: `
    <div class="fd-prompt-editor">
      <div class="fd-prompt-head">
        <span class="fd-prompt-title" aria-hidden="true">{{ label }}</span>
        <q-btn flat dense no-caps size="sm" padding="0 6px" :color="raw ? 'indigo' : undefined"
               :icon="raw ? 'code' : 'label'" label="Raw" :aria-pressed="raw ? 'true' : 'false'"
               aria-label="Raw text" @click="toggle" />
      </div>
      <div ref="box"></div>
    </div>
  `,
  props: { value: String, label: String, placeholder: String, context: Object, diagnostics: Array },
  data() {
    return { raw: localStorage.getItem(RAW_KEY) === "1" };
  },
  mounted() {
    const options = {
      value: this.value,
      label: this.label,
      placeholder: this.placeholder,
      context: Vue.toRaw(this.context),
      diagnostics: Vue.toRaw(this.diagnostics),
      raw: this.raw,
    };
    this.handle = mount(this.$refs.box, options, (name, payload) => this.$emit(name, payload));
  },
  beforeUnmount() {
    this.handle?.destroy();
  },
  methods: {
    toggle() {
      this.raw = !this.raw;
      localStorage.setItem(RAW_KEY, this.raw ? "1" : "0");
      this.handle?.setRaw(this.raw);
    },
    diagnose(version, diagnostics) {
      this.handle?.diagnose(version, diagnostics);
    },
    insert(text) {
      this.handle?.insert(text);
    },
  },
};
