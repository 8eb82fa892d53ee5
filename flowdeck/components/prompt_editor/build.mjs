// Bundles src/ into dist/index.js: one ES module with CodeMirror inside.
// The output is committed; CI rebuilds it and fails if it differs (.ci/run).
import { build } from "esbuild";

await build({
  entryPoints: ["src/index.js"],
  outfile: "dist/index.js",
  bundle: true,
  format: "esm",
  minify: true,
  legalComments: "none",
  target: ["es2020"],
  logLevel: "warning",
});
