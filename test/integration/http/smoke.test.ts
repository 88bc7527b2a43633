import { describe, expect, it } from "vitest";
import { call, signup } from "../../helpers/api";

describe("smoke", () => {
  it("signs up and reads /api/me", async () => {
    const a = await signup();
    const me = await call("GET", "/api/me", a);
    expect(me.status).toBe(200);
    expect(me.json.user.email).toBe(a.email);
  });
});
