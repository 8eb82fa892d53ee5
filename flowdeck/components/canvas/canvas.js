import { mount } from "flowdeck-canvas";

export default {
  template: `<div class="flowdeck-canvas" role="application" aria-label="Workflow canvas"></div>`,
  props: { initial: Object },
  mounted() {
    this.handle = mount(this.$el, this.initial, (name, payload) => this.$emit(name, payload));
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
