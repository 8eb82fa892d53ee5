// Text that grows as an agent streams: the server sends only the new part (a delta), never the whole text.
export default {
  template: `<div class="fd-stream" style="white-space: pre-wrap"></div>`,
  methods: {
    append(delta) {
      this.$el.append(document.createTextNode(delta));
    },
    set(text) {
      this.$el.textContent = text;
    },
  },
};
