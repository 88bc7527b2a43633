import { describe, expect, it } from "vitest";
import { computeSignature, signaturePayload, verifySignature } from "../../src/channels/twilio/signature";

const TOKEN = "0123456789abcdef0123456789abcdef";

// TWILIO.md §6.4, vector C: an inbound SMS, body exactly as it goes on the wire.
const VECTOR_C_BODY =
  "ToCountry=US&ToState=CA&SmsMessageSid=SM0123456789abcdef0123456789abcdef&NumMedia=0&ToCity=SAN+FRANCISCO&FromZip=94105&SmsSid=SM0123456789abcdef0123456789abcdef&FromState=CA&SmsStatus=received&FromCity=SAN+FRANCISCO&Body=Hello%2C+world%21+%F0%9F%91%8B&FromCountry=US&To=%2B15005550006&ToZip=94105&NumSegments=1&MessageSid=SM0123456789abcdef0123456789abcdef&AccountSid=AC0123456789abcdef0123456789abcdef&From=%2B14155552671&ApiVersion=2010-04-01";
const VECTOR_C_URL = "https://example.com/twilio/sms?tenant=acme";

const VECTOR_D: [string, string][] = [
  ["AccountSid", "AC0123456789abcdef0123456789abcdef"],
  ["ApiVersion", "2010-04-01"],
  ["ErrorCode", "30003"],
  ["From", "+15005550006"],
  ["MessageSid", "SM0123456789abcdef0123456789abcdef"],
  ["MessageStatus", "undelivered"],
  ["SmsSid", "SM0123456789abcdef0123456789abcdef"],
  ["SmsStatus", "undelivered"],
  ["To", "+14155552671"],
];

const VECTOR_E: [string, string][] = [
  ["MediaUrl", "https://b.example/2.png"],
  ["MediaUrl", "https://a.example/1.png"],
  ["To", "+14155552671"],
];

describe("X-Twilio-Signature (invariant 7, TWILIO.md §6.4 vectors)", () => {
  it("vector A: Twilio's documented example", async () => {
    const params: [string, string][] = [
      ["CallSid", "CA1234567890ABCDE"],
      ["Caller", "+14158675310"],
      ["Digits", "1234"],
      ["From", "+14158675310"],
      ["To", "+18005551212"],
    ];
    expect(await computeSignature("12345", "https://example.com/myapp.php?foo=1&bar=2", params)).toBe(
      "L/OH5YylLD5NRKLltdqwSvS0BnU=",
    );
  });

  it("vector C: inbound SMS with decoded UTF-8 values", async () => {
    const params = [...new URLSearchParams(VECTOR_C_BODY)];
    expect(await computeSignature(TOKEN, VECTOR_C_URL, params)).toBe("pSbr4B7pl87WQBDd51zpFztZyW8=");
    expect(await verifySignature(TOKEN, "pSbr4B7pl87WQBDd51zpFztZyW8=", VECTOR_C_URL, params)).toBe(true);
    // Signed with :443 still validates against the URL without a port.
    expect(await verifySignature(TOKEN, "OnnsXMRhX1DJq72l3wiiYdUY888=", VECTOR_C_URL, params)).toBe(true);
  });

  it("vector D: status callback", async () => {
    expect(await computeSignature(TOKEN, "https://example.com/twilio/status", VECTOR_D)).toBe(
      "4Pnjak4bEiv/UdWEV6eQqSBJRM0=",
    );
  });

  it("vector E: repeated keys are kept and their values sorted", async () => {
    expect(signaturePayload("https://example.com/twilio/status", VECTOR_E)).toBe(
      "https://example.com/twilio/statusMediaUrlhttps://a.example/1.pngMediaUrlhttps://b.example/2.pngTo+14155552671",
    );
    expect(await computeSignature(TOKEN, "https://example.com/twilio/status", VECTOR_E)).toBe(
      "jDPIhhugQxCFRJhQy2i6AAUkY9o=",
    );
  });

  it("rejects a missing signature, a wrong token, a changed parameter, a dropped repeated value and another URL", async () => {
    const params = [...new URLSearchParams(VECTOR_C_BODY)];
    const good = "pSbr4B7pl87WQBDd51zpFztZyW8=";
    expect(await verifySignature(TOKEN, undefined, VECTOR_C_URL, params)).toBe(false);
    expect(await verifySignature(TOKEN, "", VECTOR_C_URL, params)).toBe(false);
    expect(await verifySignature("another-token-another-token-0000", good, VECTOR_C_URL, params)).toBe(false);
    const tampered = params.map(([k, v]): [string, string] => [k, k === "Body" ? "Hello, world!" : v]);
    expect(await verifySignature(TOKEN, good, VECTOR_C_URL, tampered)).toBe(false);
    expect(await verifySignature(TOKEN, good, "https://example.com/twilio/sms?tenant=other", params)).toBe(false);
    expect(
      await verifySignature(
        TOKEN,
        "jDPIhhugQxCFRJhQy2i6AAUkY9o=",
        "https://example.com/twilio/status",
        VECTOR_E.slice(1),
      ),
    ).toBe(false);
  });
});
