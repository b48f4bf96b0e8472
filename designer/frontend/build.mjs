// Bundles the designer (src/main.js and its CSS) into designer/static/build/ with esbuild.
import { build } from "esbuild";

const started = performance.now();
await build({
  entryPoints: { designer: "src/main.js" },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  target: ["es2020"],
  outdir: "../static/build",
  logLevel: "warning",
  legalComments: "linked",
});
console.log(`designer bundle built in ${Math.round(performance.now() - started)} ms`);
