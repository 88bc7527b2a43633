/** The emulator's "phone": text the app as a customer and see its replies (served at /). */
export const PHONE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley phone (Twilio emulator)</title>
<style>
  :root { color-scheme: light dark; --bg: #f4f4f5; --card: #fff; --me: #2563eb; --them: #e4e4e7; --text: #18181b; --muted: #71717a; }
  @media (prefers-color-scheme: dark) { :root { --bg: #18181b; --card: #27272a; --them: #3f3f46; --text: #fafafa; --muted: #a1a1aa; } }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); display: flex; justify-content: center; }
  main { width: 100%; max-width: 420px; min-height: 100vh; display: flex; flex-direction: column; background: var(--card); }
  header { padding: 12px 16px; border-bottom: 1px solid var(--them); }
  header h1 { font-size: 16px; margin: 0 0 8px; }
  label { display: block; font-size: 12px; color: var(--muted); margin-top: 6px; }
  input, textarea { width: 100%; padding: 8px; border-radius: 8px; border: 1px solid var(--them); background: var(--bg); color: var(--text); font: inherit; }
  #thread { flex: 1; overflow-y: auto; padding: 16px; display: flex; flex-direction: column; gap: 6px; }
  .bubble { max-width: 80%; padding: 8px 12px; border-radius: 16px; white-space: pre-wrap; word-wrap: break-word; }
  .me { align-self: flex-end; background: var(--me); color: #fff; border-bottom-right-radius: 4px; }
  .them { align-self: flex-start; background: var(--them); border-bottom-left-radius: 4px; }
  .meta { font-size: 11px; color: var(--muted); }
  .me + .meta { align-self: flex-end; }
  form { display: flex; gap: 8px; padding: 12px; border-top: 1px solid var(--them); }
  button { padding: 8px 16px; border-radius: 8px; border: 0; background: var(--me); color: #fff; font: inherit; cursor: pointer; }
  button:focus-visible, input:focus-visible, textarea:focus-visible { outline: 2px solid var(--me); outline-offset: 2px; }
  #error { color: #dc2626; font-size: 13px; padding: 0 16px; min-height: 1em; }
  .bubble img { display: block; max-width: 100%; border-radius: 10px; margin-bottom: 4px; }
  .file { font-size: 13px; opacity: 0.9; }
  #attach { flex: 0 0 auto; background: var(--them); color: var(--text); }
  #picked { font-size: 12px; color: var(--muted); padding: 0 16px; }
  nav { font-size: 12px; margin-top: 6px; }
</style>
</head>
<body>
<main>
  <header>
    <h1>📱 Customer phone</h1>
    <label for="me">This phone's number</label>
    <input id="me" value="+14155552671" autocomplete="off">
    <label for="them">Texting (a Parley number; prefix both with whatsapp: for WhatsApp)</label>
    <input id="them" value="+15005550006" autocomplete="off">
    <nav><a href="/mailbox">✉️ Mailbox (email)</a></nav>
  </header>
  <div id="thread" aria-live="polite" aria-label="Messages"></div>
  <div id="error" role="alert"></div>
  <div id="picked" aria-live="polite"></div>
  <form id="compose">
    <input id="file" type="file" accept="image/*,application/pdf,text/vcard" hidden>
    <button id="attach" type="button" aria-label="Attach a picture or file">📎</button>
    <label for="text" hidden>Message</label>
    <textarea id="text" rows="2" placeholder="Text message (try HELP, STOP, START)"></textarea>
    <button type="submit">Send</button>
  </form>
</main>
<script>
  const $ = (id) => document.getElementById(id);
  const thread = $("thread");
  let last = "";
  async function refresh() {
    try {
      const me = $("me").value.trim();
      const res = await fetch("/_control/messages?phone=" + encodeURIComponent(me));
      const data = await res.json();
      const key = JSON.stringify(data.messages.map((m) => [m.sid, m.status]));
      if (key === last) return;
      last = key;
      thread.replaceChildren();
      for (const m of data.messages) {
        const mine = m.from === me;
        const b = document.createElement("div");
        b.className = "bubble " + (mine ? "me" : "them");
        for (const p of m.media_previews || []) {
          if (p.dataUrl) {
            const img = document.createElement("img");
            img.src = p.dataUrl;
            img.alt = "Picture";
            b.append(img);
          } else {
            const f = document.createElement("div");
            f.className = "file";
            f.textContent = "📎 " + (p.contentType || "file");
            b.append(f);
          }
        }
        if (m.body || !(m.media_previews || []).length) b.append(document.createTextNode(m.body || "(media)"));
        const meta = document.createElement("div");
        meta.className = "meta";
        meta.textContent = (mine ? "you → " + m.to : m.from) + " · " + new Date(m.date_created).toLocaleTimeString() + (mine ? "" : " · " + m.status);
        thread.append(b, meta);
      }
      thread.scrollTop = thread.scrollHeight;
      $("error").textContent = "";
    } catch (e) {
      $("error").textContent = "The emulator is not answering.";
    }
  }
  $("compose").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = $("text").value;
    const file = $("file").files[0];
    if (!body.trim() && !file) return;
    const media = [];
    if (file) {
      const bytes = new Uint8Array(await file.arrayBuffer());
      let bin = "";
      for (const b of bytes) bin += String.fromCharCode(b);
      media.push({ contentType: file.type || "application/octet-stream", base64: btoa(bin) });
    }
    const res = await fetch("/_control/inbound", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ from: $("me").value.trim(), to: $("them").value.trim(), body, media }),
    });
    $("file").value = "";
    $("picked").textContent = "";
    const out = await res.json();
    if (!res.ok || out.status !== 200) {
      $("error").textContent = "Parley answered " + (out.status ?? res.status) + "; is npm run dev running?";
    } else {
      $("text").value = "";
    }
    refresh();
  });
  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("compose").requestSubmit(); }
  });
  $("attach").addEventListener("click", () => $("file").click());
  $("file").addEventListener("change", () => {
    const f = $("file").files[0];
    $("picked").textContent = f ? "Attached: " + f.name : "";
  });
  setInterval(refresh, 1000);
  refresh();
</script>
</body>
</html>`;
