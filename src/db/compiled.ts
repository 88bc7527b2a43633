/**
 * Statements for the hot paths, built by drizzle once per isolate instead of once per call. Building a
 * query (walking its SQL chunks with an `is()` check each, escaping names, ordering the selection) and
 * mapping its rows cost more of the Worker's CPU than anything else on an inbound text or a list page.
 * A compiled statement is written with drizzle as usual, with `sql.placeholder`s where the values go;
 * the first call builds its SQL and works out, per parameter, how to fill it (a column's encoder and
 * default, as drizzle's own insert and prepared statements apply them) and, per result column, how to
 * decode it. Each call then only binds values and maps rows. Same SQL, same parameters, same result.
 */
import { Column, getTableColumns, getTableName, is, Param, Placeholder, SQL, sql, Table } from "drizzle-orm";
import { createDb, type Db } from "./client";

type Decoder = { mapFromDriverValue(value: unknown): unknown };
type Encoder = { mapToDriverValue(value: unknown): unknown };

interface Slot {
  group: string | null;
  key: string;
  decoder: Decoder;
  /** The table a column of a group belongs to (a group becomes null only when all its columns are null). */
  table: string | null;
}

/** A built query as drizzle keeps it: its selection (select) or returning list (insert, update). */
interface Built {
  toSQL(): { sql: string; params: unknown[] };
  config: { fields?: Record<string, unknown>; returning?: { path: string[]; field: unknown }[] };
  joinsNotNullableMap?: Record<string, boolean>;
}

/** The selection's fields in the order of the SELECT list drizzle writes (as its orderSelectedFields). */
function ordered(fields: Record<string, unknown>, prefix: string[] = []): { path: string[]; field: unknown }[] {
  return Object.entries(fields).flatMap(([name, field]) => {
    const path = [...prefix, name];
    if (is(field, Column) || is(field, SQL) || is(field, SQL.Aliased)) return [{ path, field }];
    if (is(field, Table)) return ordered(getTableColumns(field), path);
    return ordered(field as Record<string, unknown>, path);
  });
}

function slotsOf(fields: { path: string[]; field: unknown }[]): Slot[] {
  return fields.map(({ path, field }) => ({
    group: path.length === 2 ? (path[0] ?? null) : null,
    key: path[path.length - 1] ?? "",
    // Drizzle keeps an SQL field's decoder (set by .mapWith) on the SQL itself.
    decoder: (is(field, Column)
      ? field
      : is(field, SQL)
        ? (field as unknown as { decoder: Decoder }).decoder
        : (field as { sql: { decoder: Decoder } }).sql.decoder) as Decoder,
    table: path.length === 2 && is(field, Column) ? getTableName(field.table) : null,
  }));
}

/** The result column names of a selection (a column's name, an alias), or null if any is unknown or two are the same. */
function namesOf(fields: { path: string[]; field: unknown }[]): string[] | null {
  const names = fields.map(({ field }) =>
    is(field, Column) ? field.name : is(field, SQL.Aliased) ? (field as SQL.Aliased).fieldAlias : null,
  );
  if (names.some((name) => name === null) || new Set(names).size !== names.length) return null;
  return names as string[];
}

/**
 * Maps raw rows (arrays in SELECT order) of `query` as drizzle would: nested objects, each column
 * decoded by its own type, a left-joined table's object null when it found no row.
 */
export function rowMapper(query: Built): (row: unknown[]) => Record<string, unknown> {
  const fields = query.config.returning ?? (query.config.fields ? ordered(query.config.fields) : []);
  const slots = slotsOf(fields);
  const notNullable = query.joinsNotNullableMap ?? {};
  const flat = slots.every((slot) => slot.group === null);
  if (flat) {
    return (row) => {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[i] as Slot;
        const raw = row[i];
        out[slot.key] = raw === null || raw === undefined ? null : slot.decoder.mapFromDriverValue(raw);
      }
      return out;
    };
  }
  return (row) => {
    const out: Record<string, unknown> = {};
    /** Per group: its table when its first column was null, else false. */
    const allNull: Record<string, string | false> = {};
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as Slot;
      const raw = row[i];
      const value = raw === null || raw === undefined ? null : slot.decoder.mapFromDriverValue(raw);
      if (slot.group === null) {
        out[slot.key] = value;
        continue;
      }
      let node = out[slot.group] as Record<string, unknown> | undefined;
      if (!node) {
        node = {};
        out[slot.group] = node;
      }
      node[slot.key] = value;
      if (slot.table !== null) {
        // As drizzle decides: by the group's first column (its key), unless the group mixes tables.
        const seen = allNull[slot.group];
        if (seen === undefined) allNull[slot.group] = value === null ? slot.table : false;
        else if (seen !== false && seen !== slot.table) allNull[slot.group] = false;
      }
    }
    for (const group in allNull) {
      const table = allNull[group];
      if (table !== false && table !== undefined && !notNullable[table]) out[group] = null;
    }
    return out;
  };
}

type Fill = (values: Record<string, unknown>) => unknown;

/**
 * How each parameter is filled: a placeholder written into SQL takes its value as is; a placeholder
 * given for a column (an insert's or update's value, drizzle wraps it in a Param with the column as
 * encoder) is encoded by the column, and when undefined takes the column's default as drizzle's insert
 * would (else null); any other parameter is a constant of the build.
 */
function fillerOf(param: unknown): Fill {
  if (is(param, Placeholder)) {
    const name = param.name;
    return (values) => values[name] ?? null;
  }
  if (is(param, Param) && is(param.value, Placeholder)) {
    const name = (param.value as Placeholder).name;
    const encoder = param.encoder as Encoder;
    let fallback: unknown = null;
    if (is(encoder, Column)) {
      const column = encoder as Column;
      if (is(column.default, SQL)) {
        // A default written in SQL cannot be a parameter: such a column must be given a value.
        return (values) => {
          const value = values[name];
          if (value === undefined) throw new Error(`compiled statement: no value for ${column.name}`);
          return value === null ? null : encoder.mapToDriverValue(value);
        };
      }
      if (column.default !== undefined) fallback = column.mapToDriverValue(column.default);
      else if (column.defaultFn) {
        const make = column.defaultFn;
        return (values) => {
          const value = values[name];
          if (value === undefined) return column.mapToDriverValue(make());
          return value === null ? null : encoder.mapToDriverValue(value);
        };
      }
    }
    return (values) => {
      const value = values[name];
      if (value === undefined) return fallback;
      return value === null ? null : encoder.mapToDriverValue(value);
    };
  }
  return () => param;
}

/**
 * A flat selection whose result columns are named by their keys (`col AS "key"`), each still decoded by
 * its column: for statements read from a batch, whose rows are objects, where two columns of one name
 * (two tables' `id`) would otherwise be one. Typed nullable (a column may come from a left join).
 */
export function named<F extends Record<string, Column | SQL | SQL.Aliased>>(
  fields: F,
): { [K in keyof F]: F[K] extends Column ? SQL.Aliased<F[K]["_"]["data"] | null> : F[K] } {
  return Object.fromEntries(
    Object.entries(fields).map(([key, field]) => [
      key,
      is(field, Column) ? sql`${field}`.mapWith(field).as(key) : is(field, SQL) ? field.as(key) : field,
    ]),
  ) as never;
}

/** Placeholders by name, for writing a compiled statement: `p.id` is `sql.placeholder("id")`. */
export type Placeholders<K extends string> = { readonly [name in K]: Placeholder<name> };

function placeholders<K extends string>(): Placeholders<K> {
  return new Proxy({} as Placeholders<K>, { get: (_, name) => sql.placeholder(String(name)) });
}

export interface Compiled<V, R> {
  /** The statement with `values` bound (for a batch, or to run on its own). */
  statement(d1: D1Database, values: V): D1PreparedStatement;
  /** Runs it and maps its rows. */
  all(d1: D1Database, values: V): Promise<R[]>;
  /** Runs it and maps its first row (undefined when none). */
  get(d1: D1Database, values: V): Promise<R | undefined>;
  /** Maps the rows a batch returned for this statement (objects keyed by column, as D1 gives them). */
  fromBatch(result: D1Result | undefined): R[];
}

/** The row type of a drizzle query (what awaiting it gives, one element of it for a list). */
export type RowOf<Q> = Q extends PromiseLike<(infer R)[]> ? R : Q extends PromiseLike<infer R> ? NonNullable<R> : never;

/**
 * A statement built once per isolate by `build` (drizzle, with placeholders from `p`); each call passes
 * the placeholders' values (one left out is null, or an insert column's default), and the rows come back as the query's own result type.
 */
export function compiled<K extends string, Q extends { toSQL(): unknown }>(
  build: (db: Db, p: Placeholders<K>) => Q,
): Compiled<Partial<Record<K, unknown>>, RowOf<Q>> {
  type V = Partial<Record<K, unknown>>;
  type R = RowOf<Q>;
  let plan:
    | {
        sql: string;
        fills: Fill[];
        map: (row: unknown[]) => Record<string, unknown>;
        width: number;
        /** Each result column's name, when all are known and distinct (a batch row is read by them). */
        names: string[] | null;
      }
    | undefined;
  const planned = () => {
    if (!plan) {
      // Built on a handle with no binding: only its dialect is used, to write the SQL.
      const query = build(createDb({} as D1Database), placeholders()) as unknown as Built;
      const { sql: text, params } = query.toSQL();
      const fields = query.config.returning ?? (query.config.fields ? ordered(query.config.fields) : []);
      plan = {
        sql: text,
        fills: params.map(fillerOf),
        map: rowMapper(query),
        width: fields.length,
        names: namesOf(fields),
      };
    }
    return plan;
  };
  const statement = (d1: D1Database, values: V) => {
    const { sql: text, fills } = planned();
    const bound = new Array<unknown>(fills.length);
    for (let i = 0; i < fills.length; i++) bound[i] = (fills[i] as Fill)(values);
    return d1.prepare(text).bind(...bound);
  };
  return {
    statement,
    async all(d1, values) {
      const rows = await statement(d1, values).raw();
      const { map } = planned();
      return rows.map(map) as R[];
    },
    async get(d1, values) {
      const rows = await statement(d1, values).raw();
      const first = rows[0];
      return (first ? planned().map(first) : undefined) as R | undefined;
    },
    fromBatch(result) {
      const { map, width, names } = planned();
      return ((result?.results ?? []) as Record<string, unknown>[]).map((row) => {
        // A batch gives rows as objects: read by column name where the names are known (whatever order
        // the database returns them in), else by position.
        if (names) return map(names.map((name) => row[name]));
        const values = Object.values(row);
        // Two result columns of one name would have become one.
        if (values.length !== width)
          throw new Error(
            `compiled statement: ${width} columns, a batch row has ${values.length} (name them: named())`,
          );
        return map(values);
      }) as R[];
    },
  };
}

/**
 * Compiled statements for a query whose shape depends on a few choices (which filters a page has):
 * one per `shape`, built the first time that shape is asked for. `shape` must determine the SQL; the
 * values go in placeholders.
 */
export function compiledShapes<S extends string, K extends string, Q extends { toSQL(): unknown }>(
  build: (db: Db, p: Placeholders<K>, shape: S) => Q,
): (shape: S) => Compiled<Partial<Record<K, unknown>>, RowOf<Q>> {
  const byShape = new Map<S, Compiled<Partial<Record<K, unknown>>, RowOf<Q>>>();
  return (shape) => {
    let found = byShape.get(shape);
    if (!found) {
      found = compiled((db, p: Placeholders<K>) => build(db, p, shape));
      byShape.set(shape, found);
    }
    return found;
  };
}
