// The flowdeck canvas: React Flow rendering what Python owns. It sends intents, applies patches.
import React, { memo, useCallback, useEffect, useState, useSyncExternalStore } from "react";
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
  useReactFlow,
} from "@xyflow/react";
import flowCss from "@xyflow/react/dist/style.css";
import canvasCss from "./canvas.css";

const AGENT_MIME = "application/x-flowdeck-agent";
const MINIMAP_MAX_NODES = 200;

// Spinners on more running agents than this are stopped (the ring stays): in software rendering, 100 spinning
// agents cost half the page's frame rate while they streamed.
const MAX_SPINNERS = 20;

// Per-node live status (used by the live-run view): one update re-renders one node. `onRunning(count)` is told
// how many agents are running after each change.
function createStatusStore(onRunning) {
  const statuses = new Map();
  const listeners = new Map();
  const running = new Set();
  return {
    get: (id) => statuses.get(id),
    subscribe(id, listener) {
      if (!listeners.has(id)) listeners.set(id, new Set());
      listeners.get(id).add(listener);
      return () => listeners.get(id)?.delete(listener);
    },
    set(updates) {
      for (const [id, status] of Object.entries(updates)) {
        statuses.set(id, { ...(statuses.get(id) || {}), ...status });
        if (status.state === "running") running.add(id);
        else if (status.state) running.delete(id);
        listeners.get(id)?.forEach((listener) => listener());
      }
      onRunning(running.size);
    },
    clear() {
      const ids = [...statuses.keys()];
      statuses.clear();
      running.clear();
      onRunning(0);
      ids.forEach((id) => listeners.get(id)?.forEach((listener) => listener()));
    },
  };
}

const AgentNode = memo(function AgentNode({ id, data, selected }) {
  const store = data.store;
  const status = useSyncExternalStore(
    useCallback((listener) => store.subscribe(id, listener), [store, id]),
    () => store.get(id),
  );
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
  const [path] = getSmoothStepPath(props);
  const state = status?.state || "idle";
  return (
    <g className="fd-edge" data-handoff={state}>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} style={style} />
      {status?.pulse ? (
        <circle key={status.pulse} r="5" className="fd-packet">
          <animateMotion dur="0.7s" repeatCount="1" fill="freeze" path={path} />
        </circle>
      ) : null}
    </g>
  );
});

const edgeTypes = { handoff: HandoffEdge };

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

function Canvas({ initial, emit, register, store }) {
  const readonly = Boolean(initial.readonly);
  const [nodes, setNodes] = useState(() => initial.nodes.map((n) => toFlowNode(n, store)));
  const [edges, setEdges] = useState(() => initial.edges.map((e) => toFlowEdge(e, store)));
  const [colorMode, setColorMode] = useState(initial.dark ? "dark" : "light");
  // The minimap redraws every agent on every frame of a drag: at 1,000 agents it cost a third of the frame
  // rate (31 -> 45 fps without it) and 0.7 s of opening. Large workflows start without it; a button shows it.
  const [minimap, setMinimap] = useState(() => initial.nodes.length <= MINIMAP_MAX_NODES);
  const flow = useReactFlow();

  useEffect(() => {
    register((ops) => {
      for (const op of ops) {
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
          case "status":
            store.set(op.updates);
            if (op.since) recordLag(op.since);
            break;
          case "handoffs":
            // {edge id: count delivered so far}: each new count sends one packet along the edge.
            store.set(
              Object.fromEntries(
                Object.entries(op.delivered).map(([id, count]) => [`edge:${id}`, { state: "delivered", pulse: op.animate ? count : 0 }]),
              ),
            );
            break;
          case "clear_status":
            store.clear();
            break;
          case "reveal":
            window.requestAnimationFrame(() =>
              flow.setCenter(op.x + 100, op.y + 40, { zoom: flow.getZoom() }),
            );
            break;
          case "fit":
            window.requestAnimationFrame(() => flow.fitView({ padding: 0.2, maxZoom: 1 }));
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
              window.requestAnimationFrame(() => flow.fitView({ padding: 0.2, maxZoom: 1 }));
            });
            break;
          }
          default:
            console.warn("flowdeck canvas: unknown patch", op);
        }
      }
    });
  }, [register, store, flow, emit]);

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
    <ReactFlow
      nodes={nodes}
      edges={edges}
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
      fitView
      fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
      minZoom={0.05}
      proOptions={{ hideAttribution: true }}
      ariaLabelConfig={{ "node.a11yDescription.default": "Agent. Press Enter to select, arrow keys to move." }}
    >
      <Background gap={20} />
      {minimap ? <MiniMap pannable zoomable ariaLabel="Minimap" /> : null}
      <Controls aria-label="Zoom controls">
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
  );
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
      <Canvas initial={initial} emit={emit} register={register} store={store} />
    </ReactFlowProvider>,
  );
  return {
    patch(ops) {
      if (apply) apply(ops);
      else pending.push(...ops);
    },
    unmount() {
      root.unmount();
    },
  };
}

export { AGENT_MIME };
