// Looks like the panel's other outlined fields (Quasar's), with chips in the colours of the "Reads" row.
import { EditorView } from "@codemirror/view";

export const editorTheme = EditorView.theme({
  "&": {
    border: "1px solid rgba(0, 0, 0, 0.24)",
    borderRadius: "4px",
    fontSize: "13px",
    backgroundColor: "transparent",
  },
  "&:hover": { borderColor: "rgba(0, 0, 0, 0.87)" },
  "&.cm-focused": { outline: "none", borderColor: "#3f51b5", boxShadow: "inset 0 0 0 1px #3f51b5" },
  ".cm-scroller": {
    fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
    lineHeight: "1.6",
    minHeight: "6.5em",
    maxHeight: "24em",
    overflow: "auto",
  },
  ".cm-content": { padding: "6px 0", caretColor: "currentColor" },
  ".cm-line": { padding: "0 8px" },
  ".cm-placeholder": { color: "#6b7280" },
  ".fd-chip": {
    display: "inline-block",
    padding: "0 6px",
    margin: "0 1px",
    borderRadius: "10px",
    fontFamily: "Roboto, system-ui, sans-serif",
    fontSize: "12px",
    lineHeight: "1.5",
    whiteSpace: "nowrap",
    cursor: "default",
  },
  ".fd-chip[data-kind=inputs]": { backgroundColor: "#e8eaf6", color: "#283593" },
  ".fd-chip[data-kind=outputs]": { backgroundColor: "#e0f2f1", color: "#00574b" },
  ".fd-chip[data-kind=upstream]": { backgroundColor: "#eceff1", color: "#37474f" },
  ".fd-chip[data-kind=problem]": { backgroundColor: "#ffebee", color: "#b71c1c", outline: "1px solid #e57373" },
  ".cm-tooltip": { fontSize: "13px", zIndex: "5000" }, // over the drawers (Quasar: 1000-3000), under dialogs (6000)
  ".fd-chip-problem": { padding: "3px 6px", maxWidth: "22em", color: "#b71c1c", borderLeft: "5px solid #c62828" },
  ".cm-tooltip.cm-tooltip-autocomplete > ul > li": { padding: "2px 8px" },
  ".cm-tooltip.cm-tooltip-autocomplete > ul > li[aria-selected]": { backgroundColor: "#3949ab", color: "#fff" },
  ".cm-tooltip-autocomplete > ul > li[aria-selected] .cm-completionDetail": { color: "inherit" },
  ".cm-completionDetail": { color: "#4b5563", fontStyle: "normal", marginLeft: "12px", fontFamily: "ui-monospace, monospace", fontSize: "12px" },
  ".cm-diagnostic-error": { borderLeftColor: "#c62828" },
});
