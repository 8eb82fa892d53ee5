// The flowdeck canvas: React Flow rendering what Python owns. It sends intents, applies patches.
import React, { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { createRoot } from "react-dom/client";
import { graphlib, layout } from "@dagrejs/dagre";
import {
  ControlButton,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  applyEdgeChanges,
  applyNodeChanges,
  useReactFlow,
  useStore,
  useStoreApi,
} from "@xyflow/react";
import flowCss from "@xyflow/react/dist/style.css";
import canvasCss from "./canvas.css";
import {
  ActionsContext,
  ArrowMarkers,
  CanvasBackground,
  FarContext,
  FarEdges,
  MarkerContext,
  NO_EDGES,
  edgeTypes,
  isFar,
  nodeTypes,
} from "./drawing.jsx";
import { CARD_HEIGHT, CARD_WIDTH, FAR_ZOOM, FIT, MIN_ZOOM, useLabelScale, viewportToFit } from "./viewport.js";
import { freeSpot } from "./placement.js";
import { applyStatus, createStatusStore } from "./status.js";

const AGENT_MIME = "application/x-flowdeck-agent";
const MINIMAP_MAX_NODES = 200;

// Spinners on more running agents than this are stopped (the ring stays): in software rendering, 100 spinning
// agents cost half the page's frame rate while they streamed.
const MAX_SPINNERS = 20;

function arrange(nodes, edges) {
  const graph = new graphlib.Graph();
  graph.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 90 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) graph.setNode(n.id, { width: n.measured?.width ?? 200, height: n.measured?.height ?? 70 });
  for (const e of edges) if (!e.data?.loop) graph.setEdge(e.source, e.target); // in data-flow order: not back
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
  const fails = edge.loop?.exhausted === "fail" ? " · then fail" : ""; // a loop that fails the run says so
  const caption = (edge.caption || "") + fails;
  const fullCaption = wholeCondition(edge) + fails;
  return {
    id: edge.id,
    source: edge.source,
    target: edge.target,
    ariaLabel: caption ? `${edge.label} (${edge.loop ? "loop: " : ""}${fullCaption})` : edge.label,
    type: "handoff",
    data: { store, caption, fullCaption, loop: Boolean(edge.loop) },
  };
}

// The caption with its condition's text whole (the label may shorten it): for the label's title and the edge's name.
function wholeCondition(edge) {
  const condition = edge.condition;
  const caption = edge.caption || "";
  if (!condition || typeof condition !== "object") return caption;
  const said = condition.expression !== undefined ? `if ${condition.expression}`
    : condition.contains !== undefined ? `contains: ${condition.contains}` : null;
  if (said === null) return caption;
  return edge.loop ? `${said} · ≤ ${edge.loop.max_rounds}` : said;
}

const REFIT_MS = 1500;

// Spots handed out for agents on their way (Python adds them, then sends them back): two quick clicks must not
// be given the same spot.
const PENDING_MS = 3000;

// What is drawn over the canvas (the minimap, the zoom controls), in pixels from its top left.
function coveredRects(element) {
  const frame = element.getBoundingClientRect();
  return [...element.querySelectorAll(".react-flow__panel")].map((panel) => {
    const r = panel.getBoundingClientRect();
    return { x0: r.left - frame.left, y0: r.top - frame.top, x1: r.right - frame.left, y1: r.bottom - frame.top };
  });
}

// Before the first render the panels are not drawn yet to be measured: where they will be (React Flow's minimap is
// 200 x 150 px and the controls five 27 px buttons, 15 px from the corners).
function panelsAtFirst(element, initial) {
  const { clientWidth: w, clientHeight: h } = element;
  const controls = { x0: 15, y0: h - 15 - 5 * 27, x1: 15 + 27, y1: h - 15 };
  const minimap = { x0: w - 215, y0: h - 165, x1: w - 15, y1: h - 15 };
  return initial.nodes.length <= MINIMAP_MAX_NODES ? [controls, minimap] : [controls];
}

// A free spot for a new agent in the part of the canvas in view, not under the minimap or the zoom controls, nor
// where an agent is on its way.
function spotInView(flow, element, pending) {
  const { x, y, zoom } = flow.getViewport();
  const frame = element.getBoundingClientRect();
  const toFlow = (left, top, right, bottom) => ({
    x0: (left - frame.left - x) / zoom,
    y0: (top - frame.top - y) / zoom,
    x1: (right - frame.left - x) / zoom,
    y1: (bottom - frame.top - y) / zoom,
  });
  const margin = 16;
  const view = toFlow(frame.left + margin, frame.top + margin, frame.right - margin, frame.bottom - margin);
  const covered = [...element.querySelectorAll(".react-flow__panel")].map((panel) => {
    const r = panel.getBoundingClientRect();
    return toFlow(r.left, r.top, r.right, r.bottom);
  });
  const now = performance.now();
  pending.splice(0, pending.length, ...pending.filter((p) => now - p.at < PENDING_MS));
  const nodes = flow.getNodes().concat(pending.map((p) => p.node));
  const selected = nodes.filter((n) => n.selected);
  const spot = freeSpot(nodes, selected.length === 1 ? selected[0] : null, view, zoom, covered);
  if (spot) pending.push({ at: now, node: { position: spot } });
  return spot;
}

function Canvas({ initial, element, emit, register, store, markers }) {
  const readonly = Boolean(initial.readonly);
  // Measured when React first renders, not at mount: by then the page around the canvas has its final layout.
  // Put in the store before anything reads it: React Flow applies `defaultViewport` only after its first render,
  // which would draw the agents at zoom 1 (in full detail) before drawing them again at the zoom that fits.
  const api = useStoreApi();
  const [viewport] = useState(() => {
    const { clientWidth: width, clientHeight: height } = element;
    const fitted = viewportToFit(initial.nodes, width, height, panelsAtFirst(element, initial), initial.edges);
    api.setState({ transform: [fitted.x, fitted.y, fitted.zoom] });
    return fitted;
  });
  // Far out, every card is the same size, so it is given rather than waited for: React Flow would otherwise
  // report each agent's size once drawn, a change to all of them that draws the whole canvas once more.
  const [nodes, setNodes] = useState(() => {
    const size = viewport.zoom < FAR_ZOOM ? { width: CARD_WIDTH, height: CARD_HEIGHT } : undefined;
    return initial.nodes.map((n) => (size ? { ...toFlowNode(n, store), measured: size } : toFlowNode(n, store)));
  });
  const [edges, setEdges] = useState(() => initial.edges.map((e) => toFlowEdge(e, store)));
  const [colorMode, setColorMode] = useState(initial.dark ? "dark" : "light");
  // The minimap redraws every agent on every frame of a drag: at 1,000 agents it cost a third of the frame
  // rate (31 -> 45 fps without it) and 0.7 s of opening. Large workflows start without it; a button shows it.
  const [minimap, setMinimap] = useState(() => initial.nodes.length <= MINIMAP_MAX_NODES);
  const far = useStore(isFar);
  const flow = useReactFlow();
  const actions = useMemo(() => ({ emit, readonly }), [emit, readonly]);
  // A fit asked for by a patch is done once React has drawn the patches before it (in the same batch, say the
  // agents of a workflow just opened), from the canvas's own state.
  const [fitRequests, setFitRequests] = useState(0);
  const fit = useCallback(() => setFitRequests((n) => n + 1), []);
  // For a moment after a fit, the canvas fits again whenever its size changes: a fit asked for as the page
  // around it changes (the run panel opening under it while a run is restored) lands on the final size.
  const fitUntil = useRef(0);
  const latest = useRef({ nodes, edges });
  latest.current = { nodes, edges };
  useEffect(() => {
    if (!fitRequests) return;
    fitUntil.current = performance.now() + REFIT_MS;
    flow.setViewport(viewportToFit(nodes, element.clientWidth, element.clientHeight, coveredRects(element), edges));
    // Only a new request fits: agents moving afterwards must not move the view.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fitRequests]);
  useEffect(() => {
    const observer = new ResizeObserver(() => {
      const { clientWidth: width, clientHeight: height } = element;
      if (performance.now() < fitUntil.current && width && height) {
        const { nodes: now, edges: edgesNow } = latest.current;
        flow.setViewport(viewportToFit(now, width, height, coveredRects(element), edgesNow));
      }
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [element, flow]);

  useLabelScale(api, element);

  useEffect(() => {
    // Asked by the palette when an agent is added by a click or a key: where it goes, without moving the view.
    const pending = [];
    element.flowdeckSpot = () => spotInView(flow, element, pending);
    return () => delete element.flowdeckSpot;
  }, [element, flow]);

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
          case "update_edge":
            // In place: the edge stays selected while its condition is edited in the panel.
            setEdges((es) => es.map((e) => (e.id === op.edge.id ? { ...toFlowEdge(op.edge, store), selected: e.selected } : e)));
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

  const dragging = useRef(false);
  const keyMoves = useRef(new Map()); // agents moved with the arrow keys, not yet reported
  const keyTimer = useRef(0);
  const onNodesChange = useCallback(
    (changes) => {
      // Removals come from Python (after it checks them); everything else is local view state, except moves made
      // with the arrow keys: React Flow reports no drag stop for them, so they go to Python once the keys rest.
      setNodes((ns) => applyNodeChanges(changes.filter((c) => c.type !== "remove"), ns));
      if (readonly || dragging.current) return;
      for (const c of changes) {
        if (c.type === "position" && c.position && !c.dragging) keyMoves.current.set(c.id, c.position);
      }
      if (!keyMoves.current.size) return;
      window.clearTimeout(keyTimer.current);
      keyTimer.current = window.setTimeout(() => {
        const moved = [...keyMoves.current].map(([id, p]) => ({ id, x: p.x, y: p.y }));
        keyMoves.current.clear();
        emit("nodes_moved", { nodes: moved });
      }, 300);
    },
    [readonly, emit],
  );
  const onNodeDragStart = useCallback(() => {
    dragging.current = true;
  }, []);
  const onEdgesChange = useCallback((changes) => {
    setEdges((es) => applyEdgeChanges(changes.filter((c) => c.type !== "remove"), es));
  }, []);
  const onNodeDragStop = useCallback(
    (_event, _node, dragged) => {
      dragging.current = false;
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
    <ActionsContext.Provider value={actions}>
    <FarContext.Provider value={far}>
    <MarkerContext.Provider value={markers}>
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
      onNodeDragStart={onNodeDragStart}
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
      <ArrowMarkers prefix={markers} />
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
    </MarkerContext.Provider>
    </FarContext.Provider>
    </ActionsContext.Provider>
  );
}

let stylesInjected = false;
let canvases = 0;
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
        markers={`fd-arrow-${++canvases}`}
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
