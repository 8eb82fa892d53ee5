// The prompt template editor: CodeMirror 6 with reference chips, suggestions and the server's diagnostics.
// mount(parent, options, emit) -> a handle; the document is the template's raw text, sent with each change.
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView, keymap, placeholder, tooltips } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { autocompletion, completionKeymap } from "@codemirror/autocomplete";
import { lintKeymap, setDiagnostics } from "@codemirror/lint";
import { referenceChips } from "./references.js";
import { templateCompletions } from "./completion.js";
import { editorTheme } from "./theme.js";

// Ctrl+Enter runs the workflow (components/shortcuts.js): not CodeMirror's "insert a blank line".
const keys = defaultKeymap.filter((binding) => binding.key !== "Mod-Enter");

export function mount(parent, options, emit) {
  const context = options.context;
  const chips = new Compartment();
  let version = 0;
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: options.value ?? "",
      extensions: [
        history(),
        EditorView.lineWrapping,
        placeholder(options.placeholder ?? ""),
        EditorView.contentAttributes.of({ "aria-label": options.label, "aria-multiline": "true" }),
        chips.of(options.raw ? [] : referenceChips(context)),
        // No pause before Enter takes a suggestion: lists open only after `{{`, `.` or `|`, never at a line's end.
        autocompletion({ override: [templateCompletions(context)], icons: false, interactionDelay: 0 }),
        keymap.of([...completionKeymap, ...historyKeymap, ...lintKeymap, ...keys]),
        editorTheme,
        // In the page's body: inside the narrow, scrolling properties drawer, suggestions were cut off.
        tooltips({ parent: document.body }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) {
            version += 1;
            emit("change", { text: update.state.doc.toString(), version });
          }
        }),
      ],
    }),
  });

  const handle = {
    // Diagnostics computed by the server for the text of `forVersion` (stale ones wait for the next).
    diagnose(forVersion, diagnostics) {
      if (forVersion !== version) return;
      const length = view.state.doc.length;
      const shown = diagnostics
        .filter((d) => d.to <= length)
        .map((d) => ({ from: d.from, to: d.to, severity: d.severity, message: d.message }));
      view.dispatch(setDiagnostics(view.state, shown));
    },
    // Insert a reference at the cursor (a space keeps it apart from a word); one undo step; the cursor after it.
    insert(text) {
      const { from, to } = view.state.selection.main;
      const doc = view.state.doc;
      const apart = (ch) => ch !== "" && !/\s/.test(ch);
      const insert = (apart(doc.sliceString(from - 1, from)) ? " " : "") + text + (apart(doc.sliceString(to, to + 1)) ? " " : "");
      view.dispatch({ changes: { from, to, insert }, selection: { anchor: from + insert.length }, userEvent: "input.paste", scrollIntoView: true });
      view.focus();
    },
    setRaw(raw) {
      view.dispatch({ effects: chips.reconfigure(raw ? [] : referenceChips(context)) });
    },
    focus() {
      view.focus();
    },
    destroy() {
      view.destroy();
    },
  };
  if (options.diagnostics?.length) handle.diagnose(0, options.diagnostics);
  return handle;
}
