// Text that grows as an agent streams. Its text is written by the hub (stream_hub.js), never by Vue.
export default {
  template: `<div class="fd-stream" style="white-space: pre-wrap"></div>`,
};
