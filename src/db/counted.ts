/**
 * A D1 binding that counts its work: every round trip to the database (a statement run on its own,
 * or one `batch`) and every statement in it. One counter per request, queue batch or Durable Object
 * call; API responses report it as `Server-Timing: d1;desc="round-trips=R statements=S"`, and tests pin
 * each operation's budget with it, so a change that adds a round trip fails a test.
 */

export interface D1Count {
  roundTrips: number;
  statements: number;
}

export function newCount(): D1Count {
  return { roundTrips: 0, statements: 0 };
}

export function addCount(into: D1Count | undefined, more: D1Count | null | undefined): void {
  if (!into || !more) return;
  into.roundTrips += more.roundTrips;
  into.statements += more.statements;
}

export function serverTiming(count: D1Count): string {
  return `d1;desc="round-trips=${count.roundTrips} statements=${count.statements}"`;
}

/** The statements handed out by counting bindings, mapped to D1's own (a batch needs D1's). */
const inner = new WeakMap<D1PreparedStatement, D1PreparedStatement>();

function unwrap(statement: D1PreparedStatement): D1PreparedStatement {
  return inner.get(statement) ?? statement;
}

function countingStatement(statement: D1PreparedStatement, count: D1Count): D1PreparedStatement {
  const once = <T>(run: () => Promise<T>): Promise<T> => {
    count.roundTrips++;
    count.statements++;
    return run();
  };
  const wrapped: D1PreparedStatement = {
    bind: (...values: unknown[]) => countingStatement(statement.bind(...values), count),
    first: ((column?: string) =>
      once(() => (column === undefined ? statement.first() : statement.first(column)))) as D1PreparedStatement["first"],
    run: (() => once(() => statement.run())) as D1PreparedStatement["run"],
    all: (() => once(() => statement.all())) as D1PreparedStatement["all"],
    raw: ((options?: { columnNames?: boolean }) =>
      once<unknown>(() =>
        options?.columnNames ? statement.raw({ columnNames: true }) : statement.raw(),
      )) as D1PreparedStatement["raw"],
  } as D1PreparedStatement;
  inner.set(wrapped, statement);
  return wrapped;
}

/** `d1`, counting into `count`. */
export function countingD1(d1: D1Database, count: D1Count): D1Database {
  return {
    prepare: (query: string) => countingStatement(d1.prepare(query), count),
    batch: ((statements: D1PreparedStatement[]) => {
      count.roundTrips++;
      count.statements += statements.length;
      return d1.batch(statements.map(unwrap));
    }) as D1Database["batch"],
    exec: (query: string) => {
      count.roundTrips++;
      count.statements += query.split(";").filter((s) => s.trim()).length;
      return d1.exec(query);
    },
    withSession: (constraintOrBookmark?: string) => d1.withSession(constraintOrBookmark),
    dump: () => d1.dump(),
  } as D1Database;
}
