// The editor's keyboard shortcuts. Save (Ctrl+S) and Run (Ctrl+Enter) work everywhere, in a text field too, as in
// other editors (the field's value reached the server with each keystroke, before this key); undo, redo, copy and
// paste are the field's own inside a field and the workflow's elsewhere. A dialog's keys are its own.
export default {
  template: "<span hidden></span>",
  mounted() {
    this.handler = (e) => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey || typeof e.key !== "string") return;
      const target = e.target instanceof Element ? e.target : null;
      if (target?.closest(".q-dialog, [role=dialog]")) return;
      const key = e.key.toLowerCase();
      let command = null;
      if (key === "s") command = "save";
      else if (key === "enter") command = "run";
      else if (target?.closest("input, textarea, select, [contenteditable]:not([contenteditable=false])")) return;
      else if ((key === "z" && e.shiftKey) || key === "y") command = "redo";
      else if (key === "z") command = "undo";
      else if (key === "c") command = "copy";
      else if (key === "v") command = "paste";
      if (command === null) return;
      if (command === "save" || command === "run") {
        e.preventDefault(); // not the browser's "Save page as…"
        if (e.repeat) return; // a key held down saves or runs once
      }
      this.$emit("command", command);
    };
    document.addEventListener("keydown", this.handler, true);
  },
  unmounted() {
    document.removeEventListener("keydown", this.handler, true);
  },
};
