// Bundles src/ into dist/index.js: one ES module with React, react-dom and @xyflow/react inside.
// The output is committed; CI rebuilds it and fails if it differs (see tests/test_canvas_bundle.py).
import { build } from "esbuild";

await build({
  entryPoints: ["src/index.jsx"],
  outfile: "dist/index.js",
  bundle: true,
  format: "esm",
  minify: true,
  legalComments: "none",
  target: ["es2020"],
  jsx: "automatic",
  loader: { ".css": "text" },
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
