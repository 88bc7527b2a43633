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

export default defineConfig({
  root: "web",
  publicDir: "public",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: true },
  plugins: [reportSize()],
});
