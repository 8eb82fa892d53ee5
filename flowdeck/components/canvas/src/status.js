// Run status on the canvas: a store of per-agent and per-edge status that re-renders only what changed, and
// the patches of run status applied to it (never through React state).

// The status store's channel for "some edge changed" (the far-out edge drawing listens to it).
export const ANY_EDGE = "edge:*";

// Per-node live status (used by the live-run view): one update re-renders one node. `onRunning(count)` is told
// how many agents are running after each change.
export function createStatusStore(onRunning) {
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

// How long after the oldest event in a status patch the patch was painted (seconds; bench/live.py reads it).
const lags = [];
window.__flowdeckLag = lags;
function recordLag(since) {
  requestAnimationFrame(() => {
    if (lags.length >= 100000) lags.splice(0, 50000);
    lags.push(Date.now() / 1000 - since);
  });
}

// Patches of run status go to the status store, not through React state: applied at once, also before the
// canvas first renders (a page built on a run going on carries them in `initial.patches`).
export function applyStatus(store, op) {
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
