/** Settings → Retention and archive (owners/admins): how long messages are kept, when their contents move to R2, and what is archived now. */
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, errorText } from "./api";

interface Summary {
  archiveAfterDays: number | null;
  archivedMessages: number;
  objects: number;
  bytes: number;
  oldestArchivedAt: string | null;
  newestArchivedAt: string | null;
}

interface WorkspaceSettings {
  retentionDays: number | null;
  archiveAfterDays: number | null;
}

const days = (v: string): number | null => (v.trim() === "" ? null : Number(v));

export function ArchiveSettings() {
  const [retention, setRetention] = useState("");
  const [archiveAfter, setArchiveAfter] = useState("");
  const [summary, setSummary] = useState<Summary | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const load = async () => {
    const [ws, s] = await Promise.all([
      api<WorkspaceSettings>("GET", "/api/workspace"),
      api<Summary>("GET", "/api/archive"),
    ]);
    setRetention(ws.retentionDays === null ? "" : String(ws.retentionDays));
    setArchiveAfter(ws.archiveAfterDays === null ? "" : String(ws.archiveAfterDays));
    setSummary(s);
  };
  useEffect(() => {
    load().catch((e) => setStatus(errorText(e)));
  }, []);
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      await api("PATCH", "/api/workspace", { retentionDays: days(retention), archiveAfterDays: days(archiveAfter) });
      setStatus("Saved. The daily job applies them; Archive now does it at once.");
      await load();
    } catch (err) {
      const field =
        err instanceof ApiError ? (err.fieldMessage("archiveAfterDays") ?? err.fieldMessage("retentionDays")) : null;
      setStatus(field ? `Not saved: ${field}` : errorText(err));
    }
  };
  const act = async (what: "run" | "restore") => {
    if (what === "restore" && !confirm("Bring every archived message back into the database?")) return;
    setBusy(true);
    setStatus(what === "run" ? "Archiving…" : "Restoring…");
    try {
      const r = await api<{ objects: number; messages: number; more: boolean; summary: Summary }>(
        "POST",
        `/api/archive/${what}`,
        what === "run" ? undefined : {},
      );
      setSummary(r.summary);
      setStatus(
        what === "run" && r.messages === 0
          ? `Nothing to archive yet: no message is older than ${r.summary.archiveAfterDays} days.`
          : `${what === "run" ? "Archived" : "Restored"} ${r.messages} message(s) in ${r.objects} file(s).${r.more ? " More to do: press again." : ""}`,
      );
    } catch (err) {
      setStatus(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="archive-title" class="card" data-testid="archive-settings">
      <h2 id="archive-title">Retention and archive</h2>
      <form onSubmit={save} class="row wrap">
        <label>
          Archive messages after (days)
          <input
            type="number"
            min={7}
            max={3650}
            placeholder="never"
            value={archiveAfter}
            onInput={(e) => setArchiveAfter((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Erase contents after (days)
          <input
            type="number"
            min={1}
            max={3650}
            placeholder="keep forever"
            value={retention}
            onInput={(e) => setRetention((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" class="primary">
          Save
        </button>
      </form>
      <p class="muted small">
        Archived messages leave the database for compressed files in R2 (one per conversation and month) and still show
        in their threads as you scroll back; full-text search no longer finds their words, search by contact still finds
        their conversations. A conversation's latest message, messages still sending and those of a running campaign
        stay. Erasing applies to archived messages too.
      </p>
      {summary && (
        <p data-testid="archive-summary">
          {summary.archivedMessages === 0
            ? "Nothing archived."
            : `${summary.archivedMessages} message(s) archived in ${summary.objects} file(s) (${Math.max(
                1,
                Math.round(summary.bytes / 1024),
              )} KB compressed), from ${new Date(summary.oldestArchivedAt ?? "").toLocaleDateString()} to ${new Date(
                summary.newestArchivedAt ?? "",
              ).toLocaleDateString()}.`}
        </p>
      )}
      <div class="row">
        <button type="button" disabled={busy || !summary?.archiveAfterDays} onClick={() => act("run")}>
          Archive now
        </button>
        <button type="button" disabled={busy || !summary?.archivedMessages} onClick={() => act("restore")}>
          Restore everything
        </button>
      </div>
      <p role="status" class="small">
        {status}
      </p>
    </section>
  );
}
