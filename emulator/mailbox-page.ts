/** The emulator's mailbox: a customer's email client. Read what Parley sent, write to a Parley inbox, reply in thread (served at /mailbox). */
export const MAILBOX_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley mailbox (email emulator)</title>
<style>
  :root { color-scheme: light dark; --bg: #f4f4f5; --card: #fff; --line: #e4e4e7; --text: #18181b; --muted: #71717a; --accent: #2563eb; }
  @media (prefers-color-scheme: dark) { :root { --bg: #18181b; --card: #27272a; --line: #3f3f46; --text: #fafafa; --muted: #a1a1aa; } }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  main { max-width: 760px; margin: 0 auto; padding: 16px; display: grid; gap: 16px; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
  h1 { font-size: 18px; margin: 0; } h2 { font-size: 15px; margin: 0 0 8px; }
  label { display: block; font-size: 12px; color: var(--muted); margin-top: 8px; }
  input, textarea { width: 100%; padding: 8px; border-radius: 8px; border: 1px solid var(--line); background: var(--bg); color: var(--text); font: inherit; }
  button { margin-top: 8px; padding: 8px 16px; border-radius: 8px; border: 0; background: var(--accent); color: #fff; font: inherit; cursor: pointer; }
  .mail { border-top: 1px solid var(--line); padding: 10px 0; }
  .mail header { font-size: 13px; color: var(--muted); }
  .mail pre { white-space: pre-wrap; font: inherit; margin: 6px 0; }
  .tag { font-size: 11px; border: 1px solid var(--line); border-radius: 999px; padding: 0 6px; margin-left: 6px; }
  #error { color: #dc2626; min-height: 1em; font-size: 13px; }
</style>
</head>
<body>
<main>
  <h1>✉️ Customer mailbox <small><a href="/">📱 phone</a></small></h1>
  <section>
    <h2>Write to Parley</h2>
    <form id="compose">
      <label for="from">From (this customer)</label><input id="from" value="ana@customer.example" required>
      <label for="to">To (a Parley email inbox)</label><input id="to" value="support@parley.local" required>
      <label for="subject">Subject</label><input id="subject" value="Question about my order" required>
      <label for="text">Message</label><textarea id="text" rows="4" required></textarea>
      <input type="hidden" id="inReplyTo">
      <div id="replying"></div>
      <button type="submit">Send email</button>
    </form>
    <div id="error" role="alert"></div>
  </section>
  <section>
    <h2>Mail</h2>
    <div id="list" aria-live="polite"></div>
  </section>
</main>
<script>
  const $ = (id) => document.getElementById(id);
  let last = "";
  async function refresh() {
    try {
      const me = $("from").value.trim().toLowerCase();
      const data = await (await fetch("/_control/email/messages")).json();
      const mine = data.emails.filter((e) => e.from.toLowerCase().includes(me) || e.to.some((t) => t.toLowerCase() === me));
      const key = JSON.stringify(mine.map((e) => [e.id, e.status]));
      if (key === last) return;
      last = key;
      const list = $("list");
      list.replaceChildren();
      for (const e of mine.slice().reverse()) {
        const div = document.createElement("div");
        div.className = "mail";
        const head = document.createElement("header");
        head.textContent = (e.direction === "outbound" ? "From " + e.from : "To " + e.to.join(", ")) + " · " + new Date(e.createdAt).toLocaleString();
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = e.status;
        head.append(tag);
        const subject = document.createElement("strong");
        subject.textContent = e.subject;
        const body = document.createElement("pre");
        body.textContent = e.text;
        div.append(head, subject, body);
        for (const a of e.attachments) {
          const f = document.createElement("div");
          f.textContent = "📎 " + a.filename;
          div.append(f);
        }
        if (e.direction === "outbound") {
          const reply = document.createElement("button");
          reply.type = "button";
          reply.textContent = "Reply";
          reply.addEventListener("click", () => {
            $("to").value = e.from;
            $("subject").value = /^re:/i.test(e.subject) ? e.subject : "Re: " + e.subject;
            $("inReplyTo").value = e.messageId;
            $("replying").textContent = "Replying to " + e.messageId;
            $("text").focus();
          });
          div.append(reply);
        }
        list.append(div);
      }
    } catch {
      $("error").textContent = "The emulator is not answering.";
    }
  }
  $("compose").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const res = await fetch("/_control/email/inbound", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        from: $("from").value.trim(),
        to: $("to").value.trim(),
        subject: $("subject").value,
        text: $("text").value,
        inReplyTo: $("inReplyTo").value || undefined,
      }),
    });
    const out = await res.json();
    $("error").textContent = res.ok && (out.status === null || out.status < 300) ? "" : "Parley answered " + out.status + "; is npm run dev running?";
    if (res.ok) { $("text").value = ""; $("inReplyTo").value = ""; $("replying").textContent = ""; }
    last = "";
    refresh();
  });
  setInterval(refresh, 1000);
  refresh();
</script>
</body>
</html>`;
