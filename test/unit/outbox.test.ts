import { describe, expect, it } from "vitest";
import { sendAll } from "../../src/messaging/outbox";

describe("sendAll", () => {
  it("puts every job on the queue in calls of at most 100 (the platform's limit), in order", async () => {
    const calls: { body: number }[][] = [];
    const queue = {
      sendBatch: async (batch: { body: number }[]) => void calls.push(batch),
    } as unknown as Queue<number>;
    const bodies = Array.from({ length: 250 }, (_, i) => i);
    await sendAll(queue, bodies);
    expect(calls.map((c) => c.length)).toEqual([100, 100, 50]);
    expect(calls.flat().map((m) => m.body)).toEqual(bodies);
    await sendAll(queue, []);
    expect(calls).toHaveLength(3);
  });
});
