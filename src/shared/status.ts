/** Status order shared by the Worker and the browser (DESIGN.md invariant 3). */
export const STATUS_ORDER: Record<string, number> = {
  scheduled: 0,
  pending: 1,
  queued: 2,
  sending: 3,
  sent: 4,
  delivery_unknown: 5,
  delivered: 6,
  undelivered: 6,
  failed: 6,
  read: 7,
  canceled: 8,
  received: 9,
};

/** Whether a reported status should replace the one shown (only forward). */
export function isForward(from: string, to: string): boolean {
  return (STATUS_ORDER[to] ?? -1) > (STATUS_ORDER[from] ?? -1);
}
