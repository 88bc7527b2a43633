import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";

/** Prints the first-load JavaScript size (gzipped) after a build; fails over the 150 KB budget. */
function reportSize(budgetKb = 150): Plugin {
  return {
    name: "parley-size-report",
    generateBundle(_options, bundle) {
      let total = 0;
      for (const file of Object.values(bundle)) {
        if (file.type === "chunk" && file.isEntry) total += gzipSync(file.code).length;
      }
      const kb = total / 1024;
      console.log(`\nfirst-load JavaScript: ${kb.toFixed(1)} KB gzipped (budget ${budgetKb} KB)`);
      if (kb > budgetKb)
        this.error(`first-load JavaScript is ${kb.toFixed(1)} KB gzipped, over the ${budgetKb} KB budget`);
    },
  };
}

/**
 * The API docs page (/api/docs) loads Scalar's single-file bundle from our own assets, pinned to the
 * installed version, instead of an unpinned CDN: it works offline and cannot change under us.
 */
export const SCALAR_ASSET = "vendor/scalar-api-reference.js";
function vendorScalar(): Plugin {
  return {
    name: "parley-vendor-scalar",
    generateBundle() {
      // The package does not export its browser build; it sits at a fixed path inside it.
      const file = fileURLToPath(
        new URL("../node_modules/@scalar/api-reference/dist/browser/standalone.js", import.meta.url),
      );
      this.emitFile({ type: "asset", fileName: SCALAR_ASSET, source: readFileSync(file) });
    },
  };
}

export default defineConfig({
  root: "web",
  publicDir: "public",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: true },
  plugins: [reportSize(), vendorScalar()],
});
