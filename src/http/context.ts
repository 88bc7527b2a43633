import type { Db } from "../db/client";
import type { D1Count } from "../db/counted";
import type { Role } from "../db/schema";
import type { Scope } from "../shared/scopes";

/** Who is calling: a signed-in user (session cookie) or an integration (API key). */
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
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    db: Db;
    /** The request's D1 binding, counting round trips and statements into d1Count. */
    d1: D1Database;
    d1Count: D1Count;
    principal: Principal;
  };
}
