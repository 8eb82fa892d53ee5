import { mount } from "flowdeck-canvas";

export default {
  template: `<div class="flowdeck-canvas" role="application" aria-label="Workflow canvas"></div>`,
  props: { initial: Object },
  mounted() {
    // The plain object, not Vue's reactive view of it: React reads every agent's fields on each render, and
    // through Vue's proxies (which wrap each nested object as it is read) opening 1,000 agents took ~0.3 s more.
    const initial = Vue.toRaw(this.initial);
    this.handle = mount(this.$el, initial, (name, payload) => this.$emit(name, payload));
  },
  beforeUnmount() {
    this.handle?.unmount();
  },
  methods: {
    patch(packed) {
      this.handle?.patch(JSON.parse(packed)); // a JSON string: flowdeck/components/wire.py
    },
  },
};
