// Where things are on the canvas, in its own units: the agent cards' size, the loop edges' curves, and the viewport
// that shows every agent, loop and label; and the edge labels' size on the screen.
import { useEffect } from "react";

// Level of detail: below this zoom an agent's text would be under 5 px high, so agents are drawn as plain cards
// of the same size (its name stays on the node for assistive technology). Opening 1,000 agents, which fit at a
// zoom of about 0.1, no longer lays out and paints 4,000 runs of unreadable text.
export const FAR_ZOOM = 0.35;
// Every agent card has this size (canvas.css), near or far, whatever its text: status text that changes during a
// run does not resize it (longer text is cut with an ellipsis and shown in full on hover).
export const CARD_WIDTH = 220;
export const CARD_HEIGHT = 84;
// Padding 0.1: the built-in templates fit a 1440 px wide editor at a zoom of ~0.9, where a name's 15 px show as
// 13.6 px and the other lines' 13 px as 11.8 px (at 0.2 they were under 11).
export const FIT = { padding: 0.1, maxZoom: 1 };
// An edge starts and ends a few units out of the card, at the middle of its handle (canvas.css: 10 px handles).
const HANDLE_OUT = 5;
export const MIN_ZOOM = 0.05;

// The viewport that shows every agent and every loop's curve and label, worked out from positions (and sizes once
// measured). Used for the first render, which is then at the right zoom and level of detail instead of drawing the
// visible agents in full and again, and for every "fit": React Flow's own fitView only counts the agents it has
// drawn, and with onlyRenderVisibleElements the ones off screen are not; and it knows nothing of a loop going round
// the cards (the Review loop's ran off the canvas). `covered`: rectangles of the canvas, in pixels from its top left
// {x0, y0, x1, y1}, that something is drawn over (the minimap, the zoom controls): when the whole canvas's fit puts
// an agent under one, the agents are fitted beside it instead (Arrange put the last one under the minimap).
export function viewportToFit(nodes, width, height, covered = [], edges = []) {
  if (!nodes.length || !width || !height) return { x: 0, y: 0, zoom: 1 };
  const loops = loopsOf(nodes, edges);
  const fitted = (room) => fitWithLabels(boundsOf(nodes), loops, room);
  const whole = fitted({ x0: 0, y0: 0, x1: width, y1: height });
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
      const view = fitted(room);
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

// Each loop edge's curve (its extent, in canvas units) and where its label sits, with the label's text.
function loopsOf(nodes, edges) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const loops = [];
  for (const edge of edges) {
    if (!(edge.data?.loop ?? edge.loop)) continue;
    const source = byId.get(edge.source);
    const target = byId.get(edge.target);
    if (!source || !target) continue;
    const sourceWidth = source.measured?.width ?? CARD_WIDTH;
    const ends = {
      sourceX: source.position.x + sourceWidth + HANDLE_OUT,
      sourceY: source.position.y + (source.measured?.height ?? CARD_HEIGHT) / 2,
      targetX: target.position.x - HANDLE_OUT,
      targetY: target.position.y + (target.measured?.height ?? CARD_HEIGHT) / 2,
    };
    const { box, labelX, labelY } = loopExtent(ends);
    loops.push({ box, labelX, labelY, text: edge.data?.caption ?? edge.caption ?? "" });
  }
  return loops;
}

// The cards and loop curves, then the labels: a label keeps its size on the screen (LABEL_MIN_PX), so the smaller
// the zoom, the more of the canvas it covers. A few rounds settle it (each zoom is at most the one before).
function fitWithLabels(cards, loops, room) {
  const box = { ...cards };
  for (const { box: b } of loops) grow(box, b);
  let view = fitInto(box, room);
  for (let i = 0; i < 3 && loops.length; i++) {
    const withLabels = { ...box };
    for (const loop of loops) grow(withLabels, labelBox(loop, view.zoom));
    view = fitInto(withLabels, room);
  }
  return view;
}

function grow(box, b) {
  box.x0 = Math.min(box.x0, b.x0);
  box.y0 = Math.min(box.y0, b.y0);
  box.x1 = Math.max(box.x1, b.x1);
  box.y1 = Math.max(box.y1, b.y1);
}

// A label's box in canvas units at this zoom, from its text (an estimate a little wider than drawn, with margin).
function labelBox({ labelX, labelY, text }, zoom) {
  const scale = labelScale(zoom);
  const width = (text.length * LABEL_CHAR_PX + 24) * scale;
  const height = (LABEL_LINE_PX + 12) * scale;
  return { x0: labelX - width / 2, y0: labelY - height / 2, x1: labelX + width / 2, y1: labelY + height / 2 };
}

// Edge labels are drawn at LABEL_MIN_PX at least, whatever the zoom (up to FAR_ZOOM, where they are not drawn):
// zoomed out to fit a workflow, 12 px labels came out 8 px high.
const LABEL_MIN_PX = 12;
const LABEL_FONT_PX = 12; // canvas.css: .fd-edge-label
const LABEL_LINE_PX = 20; // its line, padding and border
const LABEL_CHAR_PX = 7.5; // wider than a 12 px system-ui character on average
export function labelScale(zoom) {
  return Math.max(1, LABEL_MIN_PX / (LABEL_FONT_PX * Math.max(zoom, FAR_ZOOM)));
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

// A loop edge goes back around the cards, not through them: out of the source to the right, down under both
// cards, along, and up into the target from the left. Returns [path, labelX, labelY] like React Flow's paths.
const LOOP_DROP = CARD_HEIGHT / 2 + 36;
const LOOP_REACH = 48;
// Loops out of one agent each go a little lower and wider the farther back they reach: never on one path.
const LOOP_SPREAD = 0.1;
const LOOP_SPREAD_MAX = 120;
export function loopPath({ sourceX, sourceY, targetX, targetY }) {
  const { out, into, below } = loopShape({ sourceX, sourceY, targetX, targetY });
  const path =
    `M${sourceX},${sourceY} C${out},${sourceY} ${out},${below} ${sourceX},${below} ` +
    `L${targetX},${below} C${into},${below} ${into},${targetY} ${targetX},${targetY}`;
  return [path, (sourceX + targetX) / 2, below];
}

function loopShape({ sourceX, sourceY, targetX, targetY }) {
  const spread = Math.min(LOOP_SPREAD_MAX, (Math.abs(sourceX - targetX) + Math.abs(sourceY - targetY)) * LOOP_SPREAD);
  return {
    below: Math.max(sourceY, targetY) + LOOP_DROP + spread,
    out: sourceX + LOOP_REACH + spread / 2,
    into: targetX - LOOP_REACH - spread / 2,
  };
}

// Where loopPath's curve reaches, in canvas units, and where its label sits. Its turns are cubic curves whose two
// middle control points stand at `out` (or `into`): they reach three quarters of the way there.
function loopExtent(ends) {
  const { out, into, below } = loopShape(ends);
  const { sourceX, sourceY, targetX, targetY } = ends;
  const box = {
    x0: Math.min(sourceX, targetX, targetX + 0.75 * (into - targetX)),
    y0: Math.min(sourceY, targetY),
    x1: Math.max(sourceX, targetX, sourceX + 0.75 * (out - sourceX)),
    y1: below + 2, // the stroke
  };
  return { box, labelX: (sourceX + targetX) / 2, labelY: below };
}

// Edge labels keep a readable size on the screen as the view zooms out (labelScale): one CSS variable on the canvas,
// set when the zoom changes, rather than a store selector in every edge.
export function useLabelScale(api, element) {
  useEffect(() => {
    let shown = 0;
    const follow = (zoom) => {
      const scale = Math.ceil(labelScale(zoom) * 100) / 100; // up: never under the minimum
      if (scale === shown) return;
      shown = scale;
      element.style.setProperty("--fd-label-scale", String(scale));
    };
    follow(api.getState().transform[2]);
    return api.subscribe((state) => follow(state.transform[2]));
  }, [api, element]);
}
