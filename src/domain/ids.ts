/**
 * Opaque ids: a short type prefix and 20 random base32 characters (100 bits), e.g. `msg_k3…`.
 * The prefix makes ids readable in logs; clients must not parse them.
 */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

export type IdPrefix =
  | "ws"
  | "usr"
  | "key"
  | "num"
  | "ct"
  | "cv"
  | "msg"
  | "note"
  | "tpl"
  | "mem"
  | "inv"
  | "lbl"
  | "cmp"
  | "ntf"
  | "imp"
  | "exp"
  | "att"
  | "whk"
  | "whd"
  | "evt"
  | "alr"
  | "arc";

export function newId(prefix: IdPrefix): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  let out = `${prefix}_`;
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}
