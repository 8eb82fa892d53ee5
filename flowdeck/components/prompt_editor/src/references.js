// A template's references as chips: `{{ inputs.task }}`, `{{ outputs.coder | code_block }}`, `{{ upstream | ... }}`
// read as "Input: Task", "Output of Coder · code block". The text stays the template's raw jinja: a chip is a
// replacing decoration over it, atomic (the cursor steps over it, Backspace takes it whole).
import { Decoration, EditorView, MatchDecorator, ViewPlugin, WidgetType, hoverTooltip } from "@codemirror/view";

const FILTERS = String.raw`((?:[ \t]*\|[ \t]*[A-Za-z_]\w*(?:[ \t]*\([^(){}\n]*\))?)*)`;
const REFERENCE = new RegExp(
  String.raw`\{\{-?[ \t]*(?:(inputs|outputs)[ \t]*\.[ \t]*([A-Za-z_]\w*)|(upstream))` + FILTERS + String.raw`[ \t]*-?\}\}`,
  "g",
);
const FILTER = /\|[ \t]*([A-Za-z_]\w*)(?:[ \t]*\(([^(){}\n]*)\))?/g;

// context: {inputs: {name: label}, upstream: {id: label}, agents: {id: label}, filters: [name]}
export function describe(match, context) {
  const [raw, kind, name, upstream, filters] = match;
  let text;
  let problem = null;
  if (upstream) {
    text = "All upstream outputs";
  } else if (kind === "inputs") {
    const label = context.inputs[name];
    text = `Input: ${label ?? name}`;
    if (label === undefined) {
      const names = Object.keys(context.inputs);
      problem = `The workflow has no input named “${name}” (its inputs: ${names.join(", ") || "none"}).`;
    }
  } else {
    const label = context.upstream[name] ?? context.agents[name];
    text = label === undefined ? `outputs.${name}` : `Output of ${label}`;
    if (context.upstream[name] === undefined) {
      problem =
        label === undefined
          ? `No agent has the id “${name}”.`
          : `${label} is not upstream of this agent: connect it to this agent (directly or through others), or remove this reference.`;
    }
  }
  const parts = [text];
  for (const [, filter, args] of filters.matchAll(FILTER)) {
    if (!context.filters.includes(filter)) problem ??= `There is no filter named “${filter}”.`;
    const shown = filterText(filter, args);
    if (shown) parts.push(shown);
  }
  return { text: parts.join(" · "), raw, problem, kind: upstream ? "upstream" : kind };
}

function filterText(name, args) {
  const value = (args ?? "").trim();
  const literal = value.replace(/^(['"])(.*)\1$/, "$2");
  switch (name) {
    case "first_lines":
      return value === "" || value === "1" ? "first line" : `first ${value} lines`;
    case "code_block":
      return value ? `${literal} code block` : "code block";
    case "json_field":
      return `field ${literal}`;
    case "join":
      return "joined";
    case "map":
      return null; // upstream | map(attribute='output'): the outputs themselves, as the chip says
    default:
      return value ? `${name}(${value.length > 16 ? value.slice(0, 15) + "…" : value})` : name;
  }
}

class Chip extends WidgetType {
  constructor(info) {
    super();
    this.info = info;
  }

  eq(other) {
    return other.info.text === this.info.text && other.info.raw === this.info.raw && other.info.problem === this.info.problem;
  }

  toDOM() {
    const span = document.createElement("span");
    span.className = "fd-chip";
    span.dataset.kind = this.info.problem ? "problem" : this.info.kind;
    span.textContent = this.info.text;
    if (!this.info.problem) span.title = this.info.raw; // a problem has its own tooltip (chipProblems)
    return span;
  }

  ignoreEvent() {
    return false; // a click on a chip places the cursor next to it, as on any text
  }
}

// Hovering a red chip says what is wrong with it (the server's underline says it too, but not over a widget).
const chipProblems = (plugin) =>
  hoverTooltip((view, pos) => {
    let found = null;
    view.plugin(plugin)?.chips.between(pos, pos, (from, to, deco) => {
      if (deco.spec.widget?.info.problem) found = { from, to, info: deco.spec.widget.info };
    });
    if (!found) return null;
    return {
      pos: found.from,
      end: found.to,
      above: true,
      create() {
        const dom = document.createElement("div");
        dom.className = "fd-chip-problem";
        dom.setAttribute("role", "tooltip");
        dom.textContent = found.info.problem;
        return { dom };
      },
    };
  });

export function referenceChips(context) {
  const matcher = new MatchDecorator({
    regexp: REFERENCE,
    decoration: (match) => Decoration.replace({ widget: new Chip(describe(match, context)) }),
  });
  const plugin = ViewPlugin.fromClass(
    class {
      constructor(view) {
        this.chips = matcher.createDeco(view);
      }
      update(update) {
        this.chips = matcher.updateDeco(update, this.chips);
      }
    },
    {
      decorations: (plugin) => plugin.chips,
      provide: (plugin) => EditorView.atomicRanges.of((view) => view.plugin(plugin)?.chips ?? Decoration.none),
    },
  );
  return [plugin, chipProblems(plugin)];
}
