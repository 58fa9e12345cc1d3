// Builds the consent widget into privacy_center/static/widget/ and enforces its size budget.
//
//   node widget/build.mjs        (npm run build:widget)
//
// Build id = first 12 hex digits of SHA-256 over the sources (widget/src/*, this script and the
// esbuild version: everything that decides the output). Writes consent.<id>.js, consent.<id>.css
// and manifest.json (newest build first, with SRI hashes and sizes), each atomically.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const BUDGET = 8192; // gzip -9 bytes of the script (styles included)
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(HERE);
const SRC = join(HERE, "src");
const OUT = join(ROOT, "privacy_center", "static", "widget");
const MANIFEST = join(OUT, "manifest.json");

/** The build id: a hash of every input that decides the output. */
function buildId() {
  const hash = createHash("sha256");
  const files = readdirSync(SRC)
    .filter((name) => /\.(js|css)$/.test(name))
    .sort()
    .map((name) => join(SRC, name));
  for (const file of [...files, fileURLToPath(import.meta.url)]) {
    hash.update(`${relative(ROOT, file)}\0`).update(readFileSync(file)).update("\0");
  }
  hash.update(`esbuild ${esbuild.version}`);
  return hash.digest("hex").slice(0, 12);
}

/** Bundles one entry point in memory. */
async function bundle(entry, options) {
  const result = await esbuild.build({
    entryPoints: [join(SRC, entry)],
    bundle: true,
    minify: true,
    write: false,
    legalComments: "none",
    logLevel: "warning",
    ...options,
  });
  return Buffer.from(result.outputFiles[0].contents);
}

/** Writes a file through a temporary file and a rename, so readers never see half of it. */
function writeAtomic(path, data) {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, data);
  renameSync(temporary, path);
}

const sri = (data) => "sha384-" + createHash("sha384").update(data).digest("base64");
const gzipSize = (data) => gzipSync(data, { level: 9 }).length;

/** The earlier builds of the manifest whose files still exist (not `id`: it is replaced). */
function earlierBuilds(id) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(MANIFEST, "utf8"));
  } catch {
    return [];
  }
  return (Array.isArray(manifest.builds) ? manifest.builds : []).filter(
    (entry) =>
      entry &&
      entry.build !== id &&
      existsSync(join(OUT, String(entry.js))) &&
      existsSync(join(OUT, String(entry.css))),
  );
}

async function main() {
  const id = buildId();
  const css = await bundle("consent.css", {
    loader: { ".css": "css" },
    target: ["chrome80", "firefox78", "safari13"],
  });
  // The styles travel inside the script (installed as a constructed stylesheet: no second
  // request); the .css file serves browsers without constructed stylesheets.
  const js = await bundle("index.js", {
    format: "iife",
    target: "es2019",
    define: { __PC_BUILD__: JSON.stringify(id), __PC_CSS__: JSON.stringify(css.toString().trim()) },
  });
  const gzip = { js: gzipSize(js), css: gzipSize(css) };
  // The script carries the styles: its size is what a visitor downloads.
  const total = gzip.js;
  console.log(
    `widget: js ${js.length} B (styles included), css ${css.length} B, gzip ${total} B (budget ${BUDGET} B)`,
  );
  if (total > BUDGET) {
    console.error(`widget: over budget by ${total - BUDGET} B (gzip -9 of the script); nothing written`);
    process.exit(1);
  }

  mkdirSync(OUT, { recursive: true });
  // Build output, never committed.
  if (!existsSync(join(OUT, ".gitignore"))) writeAtomic(join(OUT, ".gitignore"), "*\n");
  const entry = {
    build: id,
    js: `consent.${id}.js`,
    css: `consent.${id}.css`,
    integrity: { js: sri(js), css: sri(css) },
    bytes: { js: js.length, css: css.length },
    gzip,
    builtAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  };
  writeAtomic(join(OUT, entry.js), js);
  writeAtomic(join(OUT, entry.css), css);
  const manifest = { current: id, builds: [entry, ...earlierBuilds(id)] };
  writeAtomic(MANIFEST, JSON.stringify(manifest, null, 2) + "\n");
  console.log(`widget: build ${id} -> ${relative(ROOT, OUT)}/${entry.js}, ${entry.css}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
