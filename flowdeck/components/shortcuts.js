// The editor's keyboard shortcuts, from the table in shortcuts.py. Save (Ctrl+S) and Run (Ctrl+Enter) work
// everywhere, in a text field too, as in other editors (the field's value reached the server with each keystroke,
// before this key); the others are the field's own inside a field, and the workflow's elsewhere. A dialog's keys
// are its own.
export default {
  template: "<span hidden></span>",
  props: { shortcuts: Array },
  mounted() {
    this.handler = (e) => {
      if (typeof e.key !== "string" || e.altKey) return;
      const target = e.target instanceof Element ? e.target : null;
      if (target?.closest(".q-dialog, [role=dialog]")) return;
      const inField = !!target?.closest("input, textarea, select, [contenteditable]:not([contenteditable=false])");
      const found = this.shortcuts.find((s) => s.keys.some((chord) => matches(chord, e)));
      if (!found || (inField && !found.inFields)) return;
      if (!(e.ctrlKey || e.metaKey) && document.querySelector(".q-dialog, .q-menu")) return; // "?" over a dialog or menu
      if (found.inFields) {
        e.preventDefault(); // not the browser's "Save page as…"
        if (e.repeat) return; // a key held down saves or runs once
      }
      if (e.ctrlKey || e.metaKey) {
        // The key is the shortcut's, not the focused control's: a checkbox toggles on Enter's keyup (Quasar), so
        // Ctrl+Enter on a ticked tool would run, then untick it.
        e.stopPropagation();
        this.swallow = e.key.toLowerCase();
      }
      this.$emit("command", found.command);
    };
    this.release = (e) => {
      if (this.swallow && typeof e.key === "string" && e.key.toLowerCase() === this.swallow) {
        this.swallow = null;
        e.stopPropagation();
        e.preventDefault();
      }
    };
    document.addEventListener("keydown", this.handler, true);
    document.addEventListener("keyup", this.release, true);
  },
  unmounted() {
    document.removeEventListener("keydown", this.handler, true);
    document.removeEventListener("keyup", this.release, true);
  },
};

// "Mod+Shift+Z": Ctrl or ⌘, Shift, and Z. A symbol such as "?" is typed with Shift on some keyboards and without it
// on others: its Shift is not compared.
function matches(chord, e) {
  const parts = chord.split("+");
  const key = parts.pop().toLowerCase();
  const mod = parts.includes("Mod");
  const shift = parts.includes("Shift");
  if (e.key.toLowerCase() !== key || (e.ctrlKey || e.metaKey) !== mod) return false;
  return shift === e.shiftKey || (!shift && key.length === 1 && !/[a-z0-9]/.test(key));
}
