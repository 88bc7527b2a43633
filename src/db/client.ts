import { createTableRelationsHelpers, extractTablesRelationalConfig } from "drizzle-orm";
import { DrizzleD1Database, SQLiteD1Session } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { RelationalQueryBuilder } from "drizzle-orm/sqlite-core/query-builders/query";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema> & { $client: D1Database };

/**
 * What `drizzle(d1, { schema })` works out from the schema on every call (the relational config walks
 * every table and relation: ~3 % of the Worker's CPU when each request and Durable Object call made its
 * own), worked out once per isolate; each database handle is then just a session over its binding.
 */
type Relational = NonNullable<ConstructorParameters<typeof SQLiteD1Session>[2]>;
let shared: { dialect: SQLiteAsyncDialect; relational: Relational } | undefined;

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

/**
 * A drizzle handle over `d1` (a plain binding or a counting one), as `drizzle(d1, { schema })` builds it,
 * except that `db.query`'s per-table builders (~40 objects; ~3 % of a list request's CPU when every
 * request built them) are made on first use of each table.
 */
export function createDb(d1: D1Database): Db {
  const { dialect, relational } = sharedParts();
  const session = new SQLiteD1Session(d1, dialect, relational, {});
  const db = new DrizzleD1Database("async", dialect, session, undefined) as Db;
  const internal = db as unknown as { _: object };
  internal._ = {
    schema: relational.schema,
    fullSchema: relational.fullSchema,
    tableNamesMap: relational.tableNamesMap,
  };
  const builders: Record<string, unknown> = {};
  const query = new Proxy(builders, {
    get(target, name) {
      if (typeof name !== "string") return undefined;
      const table = relational.schema[name];
      if (!table) return undefined;
      target[name] ??= new RelationalQueryBuilder(
        "async",
        relational.fullSchema,
        relational.schema,
        relational.tableNamesMap,
        relational.fullSchema[name] as never,
        table,
        dialect,
        session,
      );
      return target[name];
    },
  });
  Object.defineProperty(db, "query", { value: query });
  db.$client = d1;
  return db;
}
