// Bundles the designer (src/main.js and its CSS) into designer/static/build/ with esbuild.
// Source maps only with SERVFLOW_DESIGNER_SOURCEMAPS=1: they publish the unminified source,
// so a production build must neither emit them nor keep the ones a dev build left behind.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const outdir = "../static/build";
const sourcemaps = process.env.SERVFLOW_DESIGNER_SOURCEMAPS === "1";
const started = performance.now();
if (!sourcemaps && existsSync(outdir)) {
  for (const name of readdirSync(outdir).filter((n) => n.endsWith(".map"))) {
    rmSync(join(outdir, name));
  }
}
await build({
  entryPoints: { designer: "src/main.js" },
  bundle: true,
  minify: true,
  sourcemap: sourcemaps,
  format: "esm",
  target: ["es2020"],
  outdir,
  logLevel: "warning",
  legalComments: "linked",
});
const note = sourcemaps ? " with source maps" : "";
console.log(`designer bundle built in ${Math.round(performance.now() - started)} ms${note}`);
