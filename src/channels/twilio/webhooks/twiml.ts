/** TwiML responses (TWILIO.md §5): exactly what the SDK emits for "no reply", or one <Message>. */
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

function escapeXml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

export function messageTwiml(text: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Message>${escapeXml(text)}</Message></Response>`;
}

export function twimlResponse(body: string): Response {
  return new Response(body, { status: 200, headers: { "Content-Type": "text/xml; charset=utf-8" } });
}
