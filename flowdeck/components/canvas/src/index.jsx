// The flowdeck canvas: React Flow rendering what Python owns. It sends intents, applies patches.
import React, { createContext, memo, useCallback, useContext, useEffect, useState, useSyncExternalStore } from "react";
import { createRoot } from "react-dom/client";
import { graphlib, layout } from "@dagrejs/dagre";
import {
  Background,
  BaseEdge,
  ControlButton,
  Controls,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  ReactFlowProvider,
  applyEdgeChanges,
  applyNodeChanges,
  getSmoothStepPath,
  getStraightPath,
  useReactFlow,
  useStore,
  ViewportPortal,
} from "@xyflow/react";
import flowCss from "@xyflow/react/dist/style.css";
import canvasCss from "./canvas.css";

const AGENT_MIME = "application/x-flowdeck-agent";
const MINIMAP_MAX_NODES = 200;

// Spinners on more running agents than this are stopped (the ring stays): in software rendering, 100 spinning
// agents cost half the page's frame rate while they streamed.
const MAX_SPINNERS = 20;

// The status store's channel for "some edge changed" (the far-out edge drawing listens to it).
const ANY_EDGE = "edge:*";

// Per-node live status (used by the live-run view): one update re-renders one node. `onRunning(count)` is told
// how many agents are running after each change.
function createStatusStore(onRunning) {
  const statuses = new Map();
  const listeners = new Map();
  const running = new Set();
  let edgeVersion = 0; // bumped when any edge's status changes
  return {
    get: (id) => statuses.get(id),
    version: () => edgeVersion,
    subscribe(id, listener) {
      if (!listeners.has(id)) listeners.set(id, new Set());
      listeners.get(id).add(listener);
      return () => listeners.get(id)?.delete(listener);
    },
    set(updates) {
      let edges = false;
      for (const [id, status] of Object.entries(updates)) {
        statuses.set(id, { ...(statuses.get(id) || {}), ...status });
        if (status.state === "running") running.add(id);
        else if (status.state) running.delete(id);
        listeners.get(id)?.forEach((listener) => listener());
        edges ||= id.startsWith("edge:");
      }
      if (edges) {
        edgeVersion += 1;
        listeners.get(ANY_EDGE)?.forEach((listener) => listener());
      }
      onRunning(running.size);
    },
    clear() {
      const ids = [...statuses.keys(), ANY_EDGE];
      edgeVersion += 1;
      statuses.clear();
      running.clear();
      onRunning(0);
      ids.forEach((id) => listeners.get(id)?.forEach((listener) => listener()));
    },
  };
}

// Level of detail: below this zoom an agent's text would be under 5 px high, so agents are drawn as plain cards
// of the same size (its name stays on the node for assistive technology). Opening 1,000 agents, which fit at a
// zoom of about 0.1, no longer lays out and paints 4,000 runs of unreadable text.
const FAR_ZOOM = 0.35;
const isFar = (s) => s.transform[2] < FAR_ZOOM;
// Read once by the canvas and handed down: a store selector in each agent and edge would be run by every one
// of them on every frame of a drag (React Flow's store changes on each mouse move), 2,000 more at 1,000 agents.
const FarContext = createContext(false);
const NO_EDGES = [];
// The size of an agent card before it is measured (for the first viewport).
const CARD_WIDTH = 220;
const CARD_HEIGHT = 72;
const FIT = { padding: 0.2, maxZoom: 1 };
const HANDLE_Y = CARD_HEIGHT / 2;
const MIN_ZOOM = 0.05;

// The viewport that shows every agent, worked out from positions (and sizes once measured). Used for the first
// render, which is then at the right zoom and level of detail instead of drawing the visible agents in full and
// again, and for every "fit": React Flow's own fitView only counts the agents it has drawn, and with
// onlyRenderVisibleElements the ones off screen are not.
function viewportToFit(nodes, width, height) {
  if (!nodes.length || !width || !height) return { x: 0, y: 0, zoom: 1 };
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const { position, measured } of nodes) {
    x0 = Math.min(x0, position.x);
    y0 = Math.min(y0, position.y);
    x1 = Math.max(x1, position.x + (measured?.width ?? CARD_WIDTH));
    y1 = Math.max(y1, position.y + (measured?.height ?? CARD_HEIGHT));
  }
  const fit = Math.min(width / ((x1 - x0) * (1 + FIT.padding)), height / ((y1 - y0) * (1 + FIT.padding)));
  const zoom = Math.max(MIN_ZOOM, Math.min(FIT.maxZoom, fit));
  return { x: width / 2 - ((x0 + x1) / 2) * zoom, y: height / 2 - ((y0 + y1) / 2) * zoom, zoom };
}

const AgentNode = memo(function AgentNode({ id, data, selected }) {
  const store = data.store;
  const status = useSyncExternalStore(
    useCallback((listener) => store.subscribe(id, listener), [store, id]),
    () => store.get(id),
  );
  const far = useContext(FarContext);
  if (far) {
    return (
      <div
        className="fd-node fd-node-far"
        data-type={data.type}
        data-selected={selected ? "true" : "false"}
        data-status={status?.state || "idle"}
      >
        <Handle type="target" position={Position.Left} aria-label={`input of ${data.label}`} />
        <Handle type="source" position={Position.Right} aria-label={`output of ${data.label}`} />
      </div>
    );
  }
  return (
    <div className="fd-node" data-selected={selected ? "true" : "false"} data-status={status?.state || "idle"}>
      <Handle type="target" position={Position.Left} aria-label={`input of ${data.label}`} />
      <div className="fd-node-head">
        <span className="material-icons fd-node-icon" aria-hidden="true">{data.icon}</span>
        <span className="fd-node-label">{data.label}</span>
      </div>
      <div className="fd-node-meta">
        <span className="fd-node-type">{data.typeTitle}</span>
        <span className="fd-node-model">{data.model}</span>
      </div>
      <div className="fd-node-status" aria-live="polite">{status?.text || ""}</div>
      <Handle type="source" position={Position.Right} aria-label={`output of ${data.label}`} />
    </div>
  );
});

const nodeTypes = { agent: AgentNode };

// How long after the oldest event in a status patch the patch was painted (seconds; bench/live.py reads it).
const lags = [];
window.__flowdeckLag = lags;
function recordLag(since) {
  requestAnimationFrame(() => {
    if (lags.length >= 100000) lags.splice(0, 50000);
    lags.push(Date.now() / 1000 - since);
  });
}

// An edge that shows handoffs: a packet travels along it when an output is delivered; delivered edges stay marked.
const HandoffEdge = memo(function HandoffEdge(props) {
  const { id, data, markerEnd, style } = props;
  const store = data.store;
  const status = useSyncExternalStore(
    useCallback((listener) => store.subscribe(`edge:${id}`, listener), [store, id]),
    () => store.get(`edge:${id}`),
  );
  // Far out, a straight line with no wide invisible twin to catch clicks: an edge is a pixel or two long there.
  const far = useContext(FarContext);
  const [path] = far ? getStraightPath(props) : getSmoothStepPath(props);
  const state = status?.state || "idle";
  return (
    <g className="fd-edge" data-handoff={state}>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} style={style} interactionWidth={far ? 0 : 20} />
      {status?.pulse ? (
        <circle key={status.pulse} r="5" className="fd-packet">
          <animateMotion dur="0.7s" repeatCount="1" fill="freeze" path={path} />
        </circle>
      ) : null}
    </g>
  );
});

const edgeTypes = { handoff: HandoffEdge };

// Far out, every edge is drawn as a straight line in one SVG path (delivered ones in a second), instead of one
// React Flow edge each: each of those is an element with three store subscriptions that work out its ends again
// on every frame of a drag. At 1,000 agents this took a third of the script time of a drag.
function FarEdges({ nodes, edges, store }) {
  const version = useSyncExternalStore(
    useCallback((listener) => store.subscribe(ANY_EDGE, listener), [store]),
    () => store.version(),
  );
  const [idle, delivered] = React.useMemo(() => {
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
function CanvasBackground() {
  const far = useContext(FarContext);
  return far ? null : <Background gap={20} />;
}

function arrange(nodes, edges) {
  const graph = new graphlib.Graph();
  graph.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 90 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) graph.setNode(n.id, { width: n.measured?.width ?? 200, height: n.measured?.height ?? 70 });
  for (const e of edges) graph.setEdge(e.source, e.target);
  layout(graph);
  return nodes.map((n) => {
    const p = graph.node(n.id);
    return { id: n.id, x: Math.round(p.x - p.width / 2), y: Math.round(p.y - p.height / 2) };
  });
}

function toFlowNode(node, store) {
  return {
    id: node.id,
    type: "agent",
    position: node.position,
    ariaLabel: `${node.label} (${node.typeTitle})`,
    data: { ...node, store },
  };
}

function toFlowEdge(edge, store) {
  return { id: edge.id, source: edge.source, target: edge.target, ariaLabel: edge.label, type: "handoff", data: { store } };
}

function Canvas({ initial, element, emit, register, store }) {
  const readonly = Boolean(initial.readonly);
  const [nodes, setNodes] = useState(() => initial.nodes.map((n) => toFlowNode(n, store)));
  const [edges, setEdges] = useState(() => initial.edges.map((e) => toFlowEdge(e, store)));
  const [colorMode, setColorMode] = useState(initial.dark ? "dark" : "light");
  // The minimap redraws every agent on every frame of a drag: at 1,000 agents it cost a third of the frame
  // rate (31 -> 45 fps without it) and 0.7 s of opening. Large workflows start without it; a button shows it.
  const [minimap, setMinimap] = useState(() => initial.nodes.length <= MINIMAP_MAX_NODES);
  // Measured when React first renders, not at mount: by then the page around the canvas has its final layout.
  const [viewport] = useState(() => viewportToFit(initial.nodes, element.clientWidth, element.clientHeight));
  const far = useStore(isFar);
  const flow = useReactFlow();
  // A fit asked for by a patch is done once React has drawn the patches before it (in the same batch, say the
  // agents of a workflow just opened), from the canvas's own state.
  const [fitRequests, setFitRequests] = useState(0);
  const fit = useCallback(() => setFitRequests((n) => n + 1), []);
  useEffect(() => {
    if (fitRequests) flow.setViewport(viewportToFit(nodes, element.clientWidth, element.clientHeight));
    // Only a new request fits: agents moving afterwards must not move the view.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fitRequests]);

  useEffect(() => {
    register((ops) => {
      for (const op of ops) {
        if (applyStatus(store, op)) continue;
        switch (op.op) {
          case "replace":
            setNodes(op.nodes.map((n) => toFlowNode(n, store)));
            setEdges(op.edges.map((e) => toFlowEdge(e, store)));
            setMinimap(op.nodes.length <= MINIMAP_MAX_NODES);
            break;
          case "add_node":
            setNodes((ns) => [...ns.map((n) => ({ ...n, selected: false })), { ...toFlowNode(op.node, store), selected: true }]);
            break;
          case "update_node":
            setNodes((ns) =>
              ns.map((n) =>
                n.id === op.node.id
                  ? { ...n, position: op.node.position, ariaLabel: `${op.node.label} (${op.node.typeTitle})`, data: { ...op.node, store } }
                  : n,
              ),
            );
            break;
          case "remove_nodes":
            setNodes((ns) => ns.filter((n) => !op.ids.includes(n.id)));
            break;
          case "add_edge":
            setEdges((es) => [...es, toFlowEdge(op.edge, store)]);
            break;
          case "remove_edges":
            setEdges((es) => es.filter((e) => !op.ids.includes(e.id)));
            break;
          case "select":
            setNodes((ns) => ns.map((n) => ({ ...n, selected: op.ids.includes(n.id) })));
            break;
          case "reveal":
            window.requestAnimationFrame(() =>
              flow.setCenter(op.x + 100, op.y + 40, { zoom: flow.getZoom() }),
            );
            break;
          case "fit":
            fit();
            break;
          case "theme":
            setColorMode(op.dark ? "dark" : "light");
            break;
          case "layout": {
            // Layered layout, left to right in data-flow order, with dagre's crossing reduction; the new
            // positions go to Python as one move, so Undo puts every agent back.
            // On the next frame: patches earlier in this batch (an agent just added) are rendered by then.
            window.requestAnimationFrame(() => {
              const moved = arrange(flow.getNodes(), flow.getEdges());
              const byId = new Map(moved.map((m) => [m.id, m]));
              setNodes((ns) => ns.map((n) => (byId.has(n.id) ? { ...n, position: { x: byId.get(n.id).x, y: byId.get(n.id).y } } : n)));
              if (moved.length) emit("nodes_moved", { nodes: moved });
              fit();
            });
            break;
          }
          default:
            console.warn("flowdeck canvas: unknown patch", op);
        }
      }
    });
  }, [register, store, flow, emit, fit]);

  const onNodesChange = useCallback((changes) => {
    // Removals come from Python (after it checks them); everything else is local view state.
    setNodes((ns) => applyNodeChanges(changes.filter((c) => c.type !== "remove"), ns));
  }, []);
  const onEdgesChange = useCallback((changes) => {
    setEdges((es) => applyEdgeChanges(changes.filter((c) => c.type !== "remove"), es));
  }, []);
  const onNodeDragStop = useCallback(
    (_event, _node, dragged) => {
      emit("nodes_moved", { nodes: dragged.map((n) => ({ id: n.id, x: n.position.x, y: n.position.y })) });
    },
    [emit],
  );
  const onConnect = useCallback((c) => emit("edge_connected", { source: c.source, target: c.target }), [emit]);
  const onDelete = useCallback(
    ({ nodes: deletedNodes, edges: deletedEdges }) => {
      emit("deleted", { nodes: deletedNodes.map((n) => n.id), edges: deletedEdges.map((e) => e.id) });
    },
    [emit],
  );
  const onSelectionChange = useCallback(
    ({ nodes: selectedNodes, edges: selectedEdges }) => {
      emit("selection_change", { nodes: selectedNodes.map((n) => n.id), edges: selectedEdges.map((e) => e.id) });
    },
    [emit],
  );
  const onDragOver = useCallback((event) => {
    if (event.dataTransfer.types.includes(AGENT_MIME)) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    }
  }, []);
  const onDrop = useCallback(
    (event) => {
      const type = event.dataTransfer.getData(AGENT_MIME);
      if (!type) return;
      event.preventDefault();
      const position = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
      emit("node_added", { type, x: position.x, y: position.y });
    },
    [emit, flow],
  );

  return (
    <FarContext.Provider value={far}>
    <ReactFlow
      nodes={nodes}
      edges={far ? NO_EDGES : edges}
      nodeTypes={nodeTypes}
      edgeTypes={edgeTypes}
      colorMode={colorMode}
      nodesDraggable={!readonly}
      nodesConnectable={!readonly}
      onNodesChange={onNodesChange}
      onEdgesChange={onEdgesChange}
      onNodeDragStop={onNodeDragStop}
      onConnect={onConnect}
      onDelete={readonly ? undefined : onDelete}
      onSelectionChange={onSelectionChange}
      onDragOver={onDragOver}
      onDrop={readonly ? undefined : onDrop}
      deleteKeyCode={readonly ? null : ["Delete", "Backspace"]}
      multiSelectionKeyCode={["Shift", "Meta", "Control"]}
      defaultViewport={viewport}
      fitView
      fitViewOptions={FIT}
      minZoom={MIN_ZOOM}
      onlyRenderVisibleElements
      proOptions={{ hideAttribution: true }}
      ariaLabelConfig={{ "node.a11yDescription.default": "Agent. Press Enter to select, arrow keys to move." }}
    >
      <CanvasBackground />
      {far ? <FarEdges nodes={nodes} edges={edges} store={store} /> : null}
      {minimap ? <MiniMap pannable zoomable ariaLabel="Minimap" /> : null}
      <Controls aria-label="Zoom controls" showFitView={false}>
        <ControlButton onClick={fit} aria-label="Fit View" title="Fit View">
          <span className="material-icons fd-control-icon" aria-hidden="true">fit_screen</span>
        </ControlButton>
        <ControlButton
          onClick={() => setMinimap((shown) => !shown)}
          aria-label={minimap ? "Hide minimap" : "Show minimap"}
          title={minimap ? "Hide minimap" : "Show minimap"}
          aria-pressed={minimap}
        >
          <span className="material-icons fd-control-icon" aria-hidden="true">map</span>
        </ControlButton>
      </Controls>
    </ReactFlow>
    </FarContext.Provider>
  );
}

// Patches of run status go to the status store, not through React state: applied at once, also before the
// canvas first renders (a page built on a run going on carries them in `initial.patches`).
function applyStatus(store, op) {
  switch (op.op) {
    case "status":
      store.set(op.updates);
      if (op.since) recordLag(op.since);
      return true;
    case "handoffs":
      // {edge id: count delivered so far}: each new count sends one packet along the edge.
      store.set(
        Object.fromEntries(
          Object.entries(op.delivered).map(([id, count]) => [`edge:${id}`, { state: "delivered", pulse: op.animate ? count : 0 }]),
        ),
      );
      return true;
    case "clear_status":
      store.clear();
      return true;
    default:
      return false;
  }
}

let stylesInjected = false;
function injectStyles() {
  if (stylesInjected) return;
  stylesInjected = true;
  const style = document.createElement("style");
  style.textContent = flowCss + "\n" + canvasCss;
  document.head.appendChild(style);
}

// Mounts the canvas into `element`; returns {patch(ops), unmount()}.
export function mount(element, initial, emit) {
  injectStyles();
  const store = createStatusStore((count) => {
    element.dataset.spinners = count > MAX_SPINNERS ? "off" : "on";
  });
  let apply = null;
  const pending = [];
  const register = (fn) => {
    apply = fn;
    if (pending.length) apply(pending.splice(0));
  };
  const root = createRoot(element);
  root.render(
    <ReactFlowProvider>
      <Canvas
        initial={initial}
        element={element}
        emit={emit}
        register={register}
        store={store}
      />
    </ReactFlowProvider>,
  );
  const patch = (ops) => {
    if (apply) apply(ops);
    else pending.push(...ops.filter((op) => !applyStatus(store, op)));
  };
  patch(initial.patches || []);
  return {
    patch,
    unmount() {
      root.unmount();
    },
  };
}

export { AGENT_MIME };
