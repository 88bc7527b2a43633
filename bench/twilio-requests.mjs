// Signed Twilio webhook requests and test phone numbers for the bench scripts (run.mjs, profile.mjs).
import { createHmac, randomBytes } from "node:crypto";

/** X-Twilio-Signature over the URL and the sorted form parameters (TWILIO.md). */
export function sign(token, url, params) {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, k) => acc + k + params[k], url);
  return createHmac("sha1", token).update(Buffer.from(data, "utf8")).digest("base64");
}

export function randomUs() {
  return `+1415${200 + Math.floor(Math.random() * 800)}${String(Math.floor(Math.random() * 10000)).padStart(4, "0")}`;
}

export function inboundRequest(stack, from, to, body) {
  const url = `${stack.appUrl}/webhooks/twilio/inbound`;
  const sid = `SM${randomBytes(16).toString("hex")}`;
  const params = {
    AccountSid: `AC${"0".repeat(32)}`,
    From: from,
    To: to,
    Body: body,
    NumMedia: "0",
    MessageSid: sid,
    SmsSid: sid,
    ApiVersion: "2010-04-01",
  };
  return signedForm(stack, url, params);
}

/** A status callback for one of our messages, to the URL a send gives Twilio (`mid` and `cid`). */
export function statusRequest(stack, { mid, cid, sid, status }) {
  const url = `${stack.appUrl}/webhooks/twilio/status?mid=${encodeURIComponent(mid)}&cid=${encodeURIComponent(cid)}`;
  const params = {
    AccountSid: `AC${"0".repeat(32)}`,
    MessageSid: sid,
    MessageStatus: status,
    ApiVersion: "2010-04-01",
  };
  return signedForm(stack, url, params);
}

/** A form POST to `url` signed as Twilio signs it. */
function signedForm(stack, url, params) {
  return {
    url,
    init: {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign(stack.token, url, params),
      },
      body: new URLSearchParams(params).toString(),
    },
  };
}
