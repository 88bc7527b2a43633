import type { Db } from "../db/client";
import type { D1Count } from "../db/counted";
import type { PresentedCredential } from "../db/queries/auth";
import type { Principal } from "../domain/principal";

export type { Principal };

export interface AppEnv {
  Bindings: Env;
  Variables: {
    db: Db;
    /** The request's D1 binding, counting round trips and statements into d1Count. */
    d1: D1Database;
    d1Count: D1Count;
    principal: Principal;
    /** For reads that fold their credential check into their query: what the request presented. */
    credential: PresentedCredential;
  };
}
