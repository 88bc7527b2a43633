// Environment for running wrangler offline and quietly, with its files kept inside the project.
import { join } from "node:path";

export function wranglerEnv(root = process.cwd()) {
  return {
    ...process.env,
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    WRANGLER_HIDE_BANNER: "true",
    XDG_CONFIG_HOME: join(root, ".xdg"),
  };
}

export const WRANGLER_BIN = join("node_modules", ".bin", "wrangler");
