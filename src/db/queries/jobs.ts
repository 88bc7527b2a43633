/** job_runs: when each cron job last started, succeeded or failed, and what it did. */

export async function markJobStarted(d1: D1Database, name: string, at: number): Promise<void> {
  await d1
    .prepare(
      "INSERT INTO job_runs (name, last_started_at) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET last_started_at = ?2",
    )
    .bind(name, at)
    .run();
}

export async function markJobSucceeded(d1: D1Database, name: string, at: number, result: unknown): Promise<void> {
  await d1
    .prepare("UPDATE job_runs SET last_success_at = ?, last_error = NULL, last_result = ? WHERE name = ?")
    .bind(at, JSON.stringify(result ?? null), name)
    .run();
}

export async function markJobFailed(d1: D1Database, name: string, error: string): Promise<void> {
  await d1.prepare("UPDATE job_runs SET last_error = ? WHERE name = ?").bind(error.slice(0, 500), name).run();
}
