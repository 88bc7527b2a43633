import { createTableRelationsHelpers, extractTablesRelationalConfig } from "drizzle-orm";
import { DrizzleD1Database, SQLiteD1Session } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema> & { $client: D1Database };

/**
 * What `drizzle(d1, { schema })` works out from the schema on every call (the relational config walks
 * every table and relation: ~3 % of the Worker's CPU when each request and Durable Object call made its
 * own), worked out once per isolate; each database handle is then just a session over its binding.
 */
let shared: { dialect: SQLiteAsyncDialect; relational: ConstructorParameters<typeof SQLiteD1Session>[2] } | undefined;

function sharedParts() {
  if (!shared) {
    const tables = extractTablesRelationalConfig(schema, createTableRelationsHelpers);
    shared = {
      dialect: new SQLiteAsyncDialect(),
      relational: { fullSchema: schema, schema: tables.tables, tableNamesMap: tables.tableNamesMap },
    };
  }
  return shared;
}

/** A drizzle handle over `d1` (a plain binding or a counting one), as `drizzle(d1, { schema })` builds it. */
export function createDb(d1: D1Database): Db {
  const { dialect, relational } = sharedParts();
  const session = new SQLiteD1Session(d1, dialect, relational, {});
  const db = new DrizzleD1Database("async", dialect, session, relational) as Db;
  db.$client = d1;
  return db;
}
