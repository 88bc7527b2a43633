// Builds the browser app into web/dist (the Worker's static assets).
import { cpSync, mkdirSync } from "node:fs";

mkdirSync("web/dist", { recursive: true });
cpSync("web/index.html", "web/dist/index.html");
console.log("web/dist ready");
