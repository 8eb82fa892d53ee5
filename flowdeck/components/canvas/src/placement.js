// Where an agent added by a click (or Enter) goes: a free spot in the part of the canvas in view, so that the view
// does not move. Right of the selected agent when one is selected and there is room in view; else the free spot
// nearest the centre of the view. Null when no spot in view is free (Python then places it and shows it).
import { CARD_HEIGHT, CARD_WIDTH } from "./viewport.js";

const CLEARANCE = 30; // canvas units kept free around every card
const NEXT_TO = 80; // from the selected agent's right edge to the new one's left edge (room for an edge's arrow)
const GRID = 20; // the background's dots: new agents land on them
const STEP_PX = 24; // screen pixels between the spots tried in view

// `view`: the canvas's rectangle in view, in canvas units {x0, y0, x1, y1}; `covered`: rectangles in the same units
// that something is drawn over (the minimap, the zoom controls).
export function freeSpot(nodes, selected, view, zoom, covered = []) {
  const boxes = nodes
    .map(boxOf)
    .concat(covered)
    .filter((b) => b.x1 + CLEARANCE > view.x0 && b.x0 - CLEARANCE < view.x1 && b.y1 + CLEARANCE > view.y0 && b.y0 - CLEARANCE < view.y1);
  const inView = (x, y) => x >= view.x0 && y >= view.y0 && x + CARD_WIDTH <= view.x1 && y + CARD_HEIGHT <= view.y1;
  const fits = (x, y) =>
    inView(x, y) &&
    !boxes.some(
      (b) =>
        x < b.x1 + CLEARANCE && x + CARD_WIDTH + CLEARANCE > b.x0 && y < b.y1 + CLEARANCE && y + CARD_HEIGHT + CLEARANCE > b.y0,
    );
  if (selected) {
    const box = boxOf(selected);
    const x = box.x1 + NEXT_TO;
    for (const row of [0, 1, -1, 2, -2]) {
      const y = box.y0 + row * (CARD_HEIGHT + CLEARANCE);
      if (fits(x, y)) return { x, y };
    }
  }
  const step = Math.max(GRID, Math.round(STEP_PX / zoom / GRID) * GRID);
  const cx = (view.x0 + view.x1 - CARD_WIDTH) / 2;
  const cy = (view.y0 + view.y1 - CARD_HEIGHT) / 2;
  const spots = [];
  for (let x = snap(view.x0); x + CARD_WIDTH <= view.x1; x += step) {
    for (let y = snap(view.y0); y + CARD_HEIGHT <= view.y1; y += step) {
      spots.push({ x, y, d: (x - cx) ** 2 + (y - cy) ** 2 });
    }
  }
  spots.sort((a, b) => a.d - b.d);
  const spot = spots.find(({ x, y }) => fits(x, y));
  return spot ? { x: spot.x, y: spot.y } : null;
}

function boxOf(node) {
  const { x, y } = node.position;
  return { x0: x, y0: y, x1: x + (node.measured?.width ?? CARD_WIDTH), y1: y + (node.measured?.height ?? CARD_HEIGHT) };
}

function snap(value) {
  return Math.ceil(value / GRID) * GRID;
}
