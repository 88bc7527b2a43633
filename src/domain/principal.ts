/** Who is acting: a signed-in user (session cookie) or an integration (API key). Plain data. */

import type { Scope } from "../shared/scopes";
import type { Role } from "../shared/status";

export interface Principal {
  kind: "session" | "api_key";
  workspaceId: string;
  /** The user behind a session; null for API keys. */
  userId: string | null;
  role: Role;
  /** The API key's id, or the session's token hash. */
  credentialId: string;
  /** What an API key may do; for sessions, what the member's role allows. */
  scopes: ReadonlySet<Scope>;
  /** When the credential lapses (sessions); null for keys, which last until revoked. */
  expiresAt: number | null;
  /** The client's address (CF-Connecting-IP), for the audit log. */
  clientIp?: string | null;
}
