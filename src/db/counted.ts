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

/**
 * A statement handed out by a counting binding: counts a round trip when run on its own; a batch
 * counts itself and passes D1 its own statement (`inner`). A class, not a wrapper object of closures:
 * hot paths make several per request.
 */
class CountedStatement {
  constructor(
    readonly inner: D1PreparedStatement,
    private readonly count: D1Count,
  ) {}

  private once<T>(run: Promise<T>): Promise<T> {
    this.count.roundTrips++;
    this.count.statements++;
    return run;
  }

  bind(...values: unknown[]): CountedStatement {
    return new CountedStatement(this.inner.bind(...values), this.count);
  }

  first(column?: string) {
    return this.once(column === undefined ? this.inner.first() : this.inner.first(column));
  }

  run() {
    return this.once(this.inner.run());
  }

  all() {
    return this.once(this.inner.all());
  }

  raw(options?: { columnNames?: boolean }) {
    return this.once<unknown>(options?.columnNames ? this.inner.raw({ columnNames: true }) : this.inner.raw());
  }
}

function unwrap(statement: D1PreparedStatement): D1PreparedStatement {
  return statement instanceof CountedStatement ? statement.inner : statement;
}

/** `d1`, counting into `count`. */
export function countingD1(d1: D1Database, count: D1Count): D1Database {
  return {
    prepare: (query: string) => new CountedStatement(d1.prepare(query), count) as unknown as D1PreparedStatement,
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
