// What the canvas draws: agent cards, handoff edges and the background, each at the level of detail the zoom
// allows, and the viewport that shows every agent.
import React, { createContext, memo, useCallback, useContext, useEffect, useMemo, useSyncExternalStore } from "react";
import {
  Background,
  BaseEdge,
  EdgeLabelRenderer,
  Handle,
  Position,
  ViewportPortal,
  getSmoothStepPath,
  getStraightPath,
  useStoreApi,
} from "@xyflow/react";
import { ANY_EDGE } from "./status.js";

// Level of detail: below this zoom an agent's text would be under 5 px high, so agents are drawn as plain cards
// of the same size (its name stays on the node for assistive technology). Opening 1,000 agents, which fit at a
// zoom of about 0.1, no longer lays out and paints 4,000 runs of unreadable text.
export const FAR_ZOOM = 0.35;
export const isFar = (s) => s.transform[2] < FAR_ZOOM;
// Read once by the canvas and handed down: a store selector in each agent and edge would be run by every one
// of them on every frame of a drag (React Flow's store changes on each mouse move), 2,000 more at 1,000 agents.
export const FarContext = createContext(false);
// The prefix of this canvas's arrowhead markers' ids (one page can show more than one canvas).
export const MarkerContext = createContext("fd");
// What a card's own buttons need: the canvas's intents, and whether this page may act (not a read-only one).
export const ActionsContext = createContext({ emit: () => {}, readonly: true });
export const NO_EDGES = [];
// Every agent card has this size (canvas.css), near or far, whatever its text: status text that changes during a
// run does not resize it (longer text is cut with an ellipsis and shown in full on hover).
export const CARD_WIDTH = 220;
export const CARD_HEIGHT = 84;
// Padding 0.1: the built-in templates fit a 1440 px wide editor at a zoom of ~0.9, where a name's 15 px show as
// 13.6 px and the other lines' 13 px as 11.8 px (at 0.2 they were under 11).
export const FIT = { padding: 0.1, maxZoom: 1 };
const HANDLE_Y = CARD_HEIGHT / 2;
export const MIN_ZOOM = 0.05;

// The viewport that shows every agent, worked out from positions (and sizes once measured). Used for the first
// render, which is then at the right zoom and level of detail instead of drawing the visible agents in full and
// again, and for every "fit": React Flow's own fitView only counts the agents it has drawn, and with
// onlyRenderVisibleElements the ones off screen are not. `covered`: rectangles of the canvas, in pixels from its
// top left {x0, y0, x1, y1}, that something is drawn over (the minimap, the zoom controls): when the whole canvas's
// fit puts an agent under one, the agents are fitted beside it instead (Arrange put the last one under the minimap).
export function viewportToFit(nodes, width, height, covered = []) {
  if (!nodes.length || !width || !height) return { x: 0, y: 0, zoom: 1 };
  const box = boundsOf(nodes);
  const whole = fitInto(box, { x0: 0, y0: 0, x1: width, y1: height });
  if (!covered.length || !coversAgent(nodes, whole, covered)) return whole;
  let best = null;
  for (const c of covered) {
    const beside = [
      { x0: 0, y0: 0, x1: width, y1: c.y0 },
      { x0: 0, y0: c.y1, x1: width, y1: height },
      { x0: 0, y0: 0, x1: c.x0, y1: height },
      { x0: c.x1, y0: 0, x1: width, y1: height },
    ];
    for (const room of beside) {
      if (room.x1 - room.x0 < CARD_HEIGHT || room.y1 - room.y0 < CARD_HEIGHT) continue;
      const view = fitInto(box, room);
      if (!coversAgent(nodes, view, covered) && (!best || view.zoom > best.zoom)) best = view;
    }
  }
  return best ?? whole;
}

function boundsOf(nodes) {
  const box = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  for (const { position, measured } of nodes) {
    box.x0 = Math.min(box.x0, position.x);
    box.y0 = Math.min(box.y0, position.y);
    box.x1 = Math.max(box.x1, position.x + (measured?.width ?? CARD_WIDTH));
    box.y1 = Math.max(box.y1, position.y + (measured?.height ?? CARD_HEIGHT));
  }
  return box;
}

function fitInto(box, room) {
  const width = room.x1 - room.x0;
  const height = room.y1 - room.y0;
  const fit = Math.min(width / ((box.x1 - box.x0) * (1 + FIT.padding)), height / ((box.y1 - box.y0) * (1 + FIT.padding)));
  const zoom = Math.max(MIN_ZOOM, Math.min(FIT.maxZoom, fit));
  return {
    x: (room.x0 + room.x1) / 2 - ((box.x0 + box.x1) / 2) * zoom,
    y: (room.y0 + room.y1) / 2 - ((box.y0 + box.y1) / 2) * zoom,
    zoom,
  };
}

function coversAgent(nodes, { x, y, zoom }, covered) {
  return nodes.some(({ position, measured }) => {
    const x0 = x + position.x * zoom;
    const y0 = y + position.y * zoom;
    const x1 = x0 + (measured?.width ?? CARD_WIDTH) * zoom;
    const y1 = y0 + (measured?.height ?? CARD_HEIGHT) * zoom;
    return covered.some((c) => x0 < c.x1 && x1 > c.x0 && y0 < c.y1 && y1 > c.y0);
  });
}

// React Flow finds where an agent's edges end by measuring its handles when it first measures the agent, and
// again only when the agent's size changes. A full card is the size of a far one, so it would keep the handles it
// had far out: none, and no edges. Agents first measured far out are measured again when drawn in full, all of a
// frame's in one update.
const remeasuring = new WeakMap();
function useHandlesMeasured(id, far) {
  const api = useStoreApi();
  useEffect(() => {
    if (far) return;
    const bounds = api.getState().nodeLookup.get(id)?.internals.handleBounds;
    if (!bounds || bounds.source?.length) return; // not measured yet (it will be, with its handles), or done
    let ids = remeasuring.get(api);
    if (!ids) {
      ids = new Set();
      remeasuring.set(api, ids);
      window.requestAnimationFrame(() => {
        remeasuring.delete(api);
        const { domNode, updateNodeInternals } = api.getState();
        const updates = new Map();
        for (const nodeId of ids) {
          const nodeElement = domNode?.querySelector(`.react-flow__node[data-id="${CSS.escape(nodeId)}"]`);
          if (nodeElement) updates.set(nodeId, { id: nodeId, nodeElement, force: true });
        }
        if (updates.size) updateNodeInternals(updates, { triggerFitView: false });
      });
    }
    ids.add(id);
  }, [far, id, api]);
}

const AgentNode = memo(function AgentNode({ id, data, selected, isConnectable }) {
  const store = data.store;
  const far = useContext(FarContext);
  // Far out, a card shows its state only: the word count ticking while it streams does not re-render it
  // (250 streaming agents re-rendered 250 cards on every patch).
  const status = useSyncExternalStore(
    useCallback((listener) => store.subscribe(id, listener), [store, id]),
    () => (far ? store.get(id)?.state : store.get(id)),
  );
  useHandlesMeasured(id, far);
  if (far) {
    // No handles: too small to connect at this zoom, and FarEdges draws the edges from positions. Two fewer
    // components per agent, each with its store subscriptions: with Vue's proxies gone too (canvas.js), opening
    // 1,000 agents took 2.1 s of the browser's main thread instead of 2.5 s (medians of 7, side by side).
    return (
      <div
        className="fd-node fd-node-far"
        data-type={data.type}
        data-selected={selected ? "true" : "false"}
        data-status={status || "idle"}
      />
    );
  }
  const sub = subtitle(data);
  const state = status?.state || "idle";
  const waiting = state === "waiting";
  const round = roundText(status);
  return (
    <div className="fd-node" data-type={data.type} data-selected={selected ? "true" : "false"} data-status={state}>
      <Handle type="target" position={Position.Left} {...handleProps(isConnectable, `input of ${data.label}`)} />
      <div className="fd-node-head">
        <span className="material-icons fd-node-icon" aria-hidden="true">{data.icon}</span>
        <span className="fd-node-label" title={data.label}>{data.label}</span>
        {data.pinned ? (
          <span className="material-icons fd-node-pin" role="img" aria-label="Pinned output" title="Pinned output: runs use it instead of calling the model">
            push_pin
          </span>
        ) : null}
        {round ? <span className="fd-node-round" title={`This agent's ${round}`}>{round}</span> : null}
      </div>
      <div className="fd-node-sub" title={sub}>{sub}</div>
      <div className="fd-node-line">
        <div className="fd-node-status" title={status?.text || undefined} aria-live="polite">
          {waiting ? status?.text || "Waiting for approval" : status?.text || ""}
        </div>
        <ToolCallsBadge status={status} />
        {waiting ? <ReviewButton id={id} label={data.label} /> : null}
      </div>
      <Handle type="source" position={Position.Right} {...handleProps(isConnectable, `output of ${data.label}`)} />
    </div>
  );
});

export const nodeTypes = { agent: AgentNode };

// "round 2/3" once an agent (or a loop edge) is past its first round; with no bound known, "round 2".
export function roundText(status) {
  const round = status?.round;
  if (!round || round < 2) return "";
  return status.rounds ? `round ${round}/${status.rounds}` : `round ${round}`;
}

// "3 tool calls" on an agent whose current execution called tools (issue 22); nothing before its first call.
export function ToolCallsBadge({ status }) {
  const count = status?.tool_calls || 0;
  if (!count) return null;
  const text = count === 1 ? "1 tool call" : `${count} tool calls`;
  return <span className="fd-node-tools" title={`This round of the agent made ${text}`}>{text}</span>;
}

// On a card waiting for a person's decision: opens the decision (contract 2), where the page may decide.
function ReviewButton({ id, label }) {
  const { emit, readonly } = useContext(ActionsContext);
  if (readonly) return null;
  return (
    <button
      type="button"
      className="fd-node-review nodrag nopan"
      aria-label={`Review ${label}`}
      onClick={(event) => {
        event.stopPropagation();
        emit("approval_review", { id });
      }}
    >
      Review…
    </button>
  );
}

// A handle that can connect is a button ("output of Coder"): click it or press Enter on it, then do the same on the
// other end (React Flow's click-to-connect). One that cannot (a read-only canvas) is decoration, hidden from
// assistive technology: an aria-label on a plain div is not allowed.
function handleProps(connectable, name) {
  if (!connectable) return { "aria-hidden": true };
  return { role: "button", tabIndex: 0, "aria-label": name, onKeyDown: pressHandle };
}

function pressHandle(event) {
  if (event.key !== "Enter" && event.key !== " ") return;
  event.preventDefault();
  event.stopPropagation(); // not the agent's own Enter (select it)
  event.currentTarget.click();
}

// The line under an agent's name: its model, after its type when the name does not already say it ("Coder ·
// gpt-4o-mini" under "Senior coder", "gpt-4o-mini" under "Coder").
export function subtitle({ label, typeTitle, model }) {
  if (!model) return typeTitle;
  return label === typeTitle ? model : `${typeTitle} · ${model}`;
}

// An edge that shows handoffs: a packet travels along it when an output is delivered; delivered edges stay marked.
const HandoffEdge = memo(function HandoffEdge(props) {
  const { id, data, style } = props;
  const store = data.store;
  const status = useSyncExternalStore(
    useCallback((listener) => store.subscribe(`edge:${id}`, listener), [store, id]),
    () => store.get(`edge:${id}`),
  );
  // Far out, a straight line with no wide invisible twin to catch clicks: an edge is a pixel or two long there.
  const far = useContext(FarContext);
  const markers = useContext(MarkerContext);
  const loop = Boolean(data.loop);
  const [path, labelX, middleY] = far ? getStraightPath(props) : loop ? loopPath(props) : getSmoothStepPath(props);
  // At the turn into its own target, not halfway down the turn several edges out of one agent share.
  const labelY = far || loop ? middleY : props.targetY;
  const state = status?.state || "idle";
  const arrow = `url(#${markers}-${state === "delivered" ? "delivered" : "idle"})`;
  const round = loop ? roundText(status) : "";
  const text = [data.caption, round].filter(Boolean).join(" · ");
  return (
    <g className="fd-edge" data-handoff={state} data-loop={loop ? "true" : "false"}>
      <BaseEdge id={id} path={path} markerEnd={arrow} style={style} interactionWidth={far ? 0 : 20} />
      {status?.pulse ? (
        <circle key={status.pulse} r="5" className="fd-packet">
          <animateMotion dur="0.7s" repeatCount="1" fill="freeze" path={path} />
        </circle>
      ) : null}
      {text && !far ? (
        <EdgeLabelRenderer>
          <div
            className="fd-edge-label nodrag nopan"
            data-loop={loop ? "true" : "false"}
            data-selected={props.selected ? "true" : "false"}
            aria-hidden="true"
            title={data.fullCaption || text}
            style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
          >
            {text}
          </div>
        </EdgeLabelRenderer>
      ) : null}
    </g>
  );
});

export const edgeTypes = { handoff: HandoffEdge };

// A loop edge goes back around the cards, not through them: out of the source to the right, down under both
// cards, along, and up into the target from the left. Returns [path, labelX, labelY] like React Flow's paths.
const LOOP_DROP = CARD_HEIGHT / 2 + 36;
const LOOP_REACH = 48;
// Loops out of one agent each go a little lower and wider the farther back they reach: never on one path.
const LOOP_SPREAD = 0.1;
const LOOP_SPREAD_MAX = 120;
export function loopPath({ sourceX, sourceY, targetX, targetY }) {
  const spread = Math.min(LOOP_SPREAD_MAX, (Math.abs(sourceX - targetX) + Math.abs(sourceY - targetY)) * LOOP_SPREAD);
  const below = Math.max(sourceY, targetY) + LOOP_DROP + spread;
  const out = sourceX + LOOP_REACH + spread / 2;
  const into = targetX - LOOP_REACH - spread / 2;
  const path =
    `M${sourceX},${sourceY} C${out},${sourceY} ${out},${below} ${sourceX},${below} ` +
    `L${targetX},${below} C${into},${below} ${into},${targetY} ${targetX},${targetY}`;
  return [path, (sourceX + targetX) / 2, below];
}

// The arrowheads at the end of edges, one per edge state; canvas.css colours them as the edges, in each theme.
// Sized in the canvas's units, so that they zoom with the edges.
export function ArrowMarkers({ prefix }) {
  return (
    <svg className="fd-markers" aria-hidden="true">
      <defs>
        {["idle", "delivered"].map((state) => (
          <marker
            key={state}
            id={`${prefix}-${state}`}
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="12"
            markerHeight="12"
            markerUnits="userSpaceOnUse"
            orient="auto-start-reverse"
          >
            <path d="M0,0 L10,5 L0,10 z" className="fd-arrow" data-handoff={state} />
          </marker>
        ))}
      </defs>
    </svg>
  );
}

// Far out, every edge is drawn as a straight line in one SVG path (delivered ones in a second), instead of one
// React Flow edge each: each of those is an element with three store subscriptions that work out its ends again
// on every frame of a drag. At 1,000 agents this took a third of the script time of a drag.
export function FarEdges({ nodes, edges, store }) {
  const version = useSyncExternalStore(
    useCallback((listener) => store.subscribe(ANY_EDGE, listener), [store]),
    () => store.version(),
  );
  const [idle, delivered] = useMemo(() => {
    const at = new Map(nodes.map((n) => [n.id, n.position]));
    const parts = [[], []];
    for (const edge of edges) {
      const from = at.get(edge.source);
      const to = at.get(edge.target);
      if (!from || !to) continue;
      const done = store.get(`edge:${edge.id}`)?.state === "delivered" ? 1 : 0;
      parts[done].push(`M${from.x + CARD_WIDTH},${from.y + HANDLE_Y}L${to.x},${to.y + HANDLE_Y}`);
    }
    return parts.map((p) => p.join(""));
  }, [nodes, edges, store, version]);
  return (
    <ViewportPortal>
      <svg className="fd-far-edges" aria-hidden="true">
        <path d={idle} className="fd-far-edge" />
        <path d={delivered} className="fd-far-edge" data-handoff="delivered" />
      </svg>
    </ViewportPortal>
  );
}

// The dotted background, except far out, where its dots would be closer than 7 px and cost more to paint than
// the agents (a pattern tile a pixel wide, repeated over the whole canvas on every frame of a drag).
export function CanvasBackground() {
  const far = useContext(FarContext);
  return far ? null : <Background gap={20} />;
}
