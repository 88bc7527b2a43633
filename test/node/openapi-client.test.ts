/**
 * The API as integrators consume it: clients/openapi.json (the Worker's document, kept equal to it by
 * test/integration/http/openapi.test.ts) passes Redocly's recommended rules with no error and no
 * warning, and a TypeScript client generated from it now equals the committed clients/typescript/ and
 * compiles (TypeScript 5, strict). test/integration/http/openapi-client.test.ts makes real calls with it.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import { describe, expect, it } from "vitest";
// @ts-expect-error plain ESM script without types
import { CODEGEN_DIR, generateClient } from "../../scripts/generate-client.mjs";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe("the API for integrators", () => {
  it("passes Redocly's recommended lint with no error or warning", async () => {
    const source = readFileSync("clients/openapi.json", "utf8");
    const config = await createConfig({ extends: ["recommended"] });
    const problems = await lintFromString({ source, absoluteRef: "clients/openapi.json", config });
    expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`)).toEqual([]);
  });

  it("generates a client equal to clients/typescript/ that compiles in strict TypeScript", { timeout: 120_000 }, () => {
    const out = mkdtempSync(join(tmpdir(), "parley-client-"));
    generateClient(out);
    const committed = files("clients/typescript")
      .map((f) => relative("clients/typescript", f))
      .sort();
    expect(
      files(out)
        .map((f) => relative(out, f))
        .sort(),
    ).toEqual(committed);
    for (const file of committed) {
      expect(readFileSync(join(out, file), "utf8"), `${file} is stale: npm run client:generate`).toBe(
        readFileSync(join("clients/typescript", file), "utf8"),
      );
    }
    // A program using it, compiled with the generated code.
    writeFileSync(
      join(out, "usage.ts"),
      [
        'import { createClient } from "./client";',
        'import { createMessage, listConversations } from "./sdk.gen";',
        'const client = createClient({ baseUrl: "https://parley.example", headers: { Authorization: "Bearer pk_x" } });',
        "export async function demo() {",
        '  const list = await listConversations({ client, query: { status: "open", limit: 10 } });',
        "  const first: string | undefined = list.data?.items[0]?.id;",
        '  const sent = await createMessage({ client, body: { to: "+14155550100", body: "Hi" } });',
        "  return [first, sent.data?.status];",
        "}",
        "",
      ].join("\n"),
    );
    execFileSync(
      join(CODEGEN_DIR, "node_modules", ".bin", "tsc"),
      [
        "--noEmit",
        "--strict",
        "--skipLibCheck",
        "--target",
        "es2022",
        "--module",
        "esnext",
        "--moduleResolution",
        "bundler",
        "--lib",
        "es2022,dom",
        ...files(out).filter((f) => f.endsWith(".ts")),
      ],
      { stdio: "pipe" },
    );
  });
});
