// Suggestions while typing a template: after `{{` every reference (by name), after `inputs.` the inputs, after
// `outputs.` the upstream agents (by name, inserting the id), after `|` the filters. Outside `{{ }}`, a reference
// picked comes with its braces. Narrowed as one types by CodeMirror's own matching of the names shown.
import { snippetCompletion } from "@codemirror/autocomplete";

const ALL_UPSTREAM = "upstream | map(attribute='output') | join('\\n\\n')";
// [what goes in, shown as, what it does]; ${1:x}: a value to type over (Tab goes on after it, to ${2}).
const FILTERS = [
  ["first_lines(${1:3})${2}", "first_lines", "the first N lines"],
  ["code_block", "code_block", "the first code block (else the whole text)"],
  ["code_block('${1:python}')${2}", "code_block('…')", "the first code block in a language"],
  ["json_field('${1:answer}')${2}", "json_field('…')", "a field of JSON: 'a.b', 'items.0'"],
  ["join('${1:, }')${2}", "join('…')", "a list joined into one text"],
  ["default('${1:none}')${2}", "default('…')", "a stand-in when the value is missing"],
  ["trim", "trim", "without spaces around it"],
  ["truncate(${1:500})${2}", "truncate(…)", "at most N characters"],
];
const WORD = /^\w*$/;

export function templateCompletions(context) {
  return (cx) => {
    const before = cx.state.sliceDoc(Math.max(0, cx.pos - 400), cx.pos);
    const inside = isInsideTag(before);
    let m;
    if ((m = /\b(inputs|outputs)[ \t]*\.[ \t]*(\w*)$/.exec(before))) {
      const [whole, kind, typed] = m;
      const start = cx.pos - whole.length;
      const labels = kind === "inputs" ? context.inputs : context.upstream;
      const options = Object.entries(labels).map(([key, label]) => ({
        label,
        detail: `${kind}.${key}`,
        type: "variable",
        apply: inside ? key : replacing(start, `{{ ${kind}.${key} }}`),
      }));
      return { from: cx.pos - typed.length, options, validFor: WORD };
    }
    if (inside && (m = /\|[ \t]*(\w*)$/.exec(before))) {
      const options = FILTERS.map(([code, label, detail]) =>
        code.includes("${")
          ? snippetCompletion(code, { label, detail, type: "function" })
          : { label, detail, type: "function", apply: code },
      );
      return { from: cx.pos - m[1].length, options, validFor: WORD };
    }
    if ((m = /\{\{-?[ \t]*(\w*)$/.exec(before))) {
      const start = cx.pos - m[0].length;
      // Listed inputs first, then the agents, then all of them at once (boost: CodeMirror sorts by name otherwise).
      const references = [
        ...Object.entries(context.inputs).map(([key, label]) => [`Input: ${label}`, `inputs.${key}`, 2]),
        ...Object.entries(context.upstream).map(([key, label]) => [`Output of ${label}`, `outputs.${key}`, 1]),
        ["All upstream outputs", ALL_UPSTREAM, 0],
      ];
      const options = references.map(([label, code, boost]) => ({
        label,
        boost,
        detail: code.length > 30 ? code.slice(0, 29) + "…" : code,
        type: "variable",
        apply: replacing(start, `{{ ${code} }}`, true),
      }));
      return { from: cx.pos - m[1].length, options, validFor: WORD };
    }
    return null;
  };
}

// Replace from `start` to the cursor with `text` (and a `}}` already after the cursor, if `closing`).
function replacing(start, text, closing = false) {
  return (view, completion, from, to) => {
    const after = closing ? /^[ \t]*-?\}\}/.exec(view.state.sliceDoc(to, to + 40)) : null;
    const end = after ? to + after[0].length : to;
    view.dispatch({
      changes: { from: start, to: end, insert: text },
      selection: { anchor: start + text.length },
      userEvent: "input.complete",
    });
  };
}

// Whether the text just before the cursor is inside `{{ }}` or `{% %}`.
function isInsideTag(before) {
  const open = Math.max(before.lastIndexOf("{{"), before.lastIndexOf("{%"));
  const close = Math.max(before.lastIndexOf("}}"), before.lastIndexOf("%}"));
  return open >= 0 && open > close;
}
