/**
 * Rows in the driver's shape — answering by column name and by index, with a
 * `length` — built cheaply. The driver defines every cell with
 * Object.defineProperty; here the index side lives on one prototype per
 * column list, so building a row is a few plain property stores.
 */
import type { Row } from "@libsql/client";

const VALUES = Symbol("values");

/** Builds rows for one column list (several result sets may share it). */
export function rowBuilder(columns: readonly string[]): (values: unknown[]) => Row {
  const proto: Record<PropertyKey, unknown> = {};
  Object.defineProperty(proto, "length", {
    get(this: { [VALUES]: unknown[] }) {
      return this[VALUES].length;
    },
  });
  for (let i = 0; i < columns.length; i++) {
    Object.defineProperty(proto, i, {
      get(this: { [VALUES]: unknown[] }) {
        return this[VALUES][i];
      },
    });
  }
  // A repeated column name answers with its first occurrence, as in the driver.
  const named: [string, number][] = [];
  const seen = new Set<string>();
  columns.forEach((c, i) => {
    if (!seen.has(c)) named.push([c, i]);
    seen.add(c);
  });
  return (values) => {
    const row = Object.create(proto) as Record<PropertyKey, unknown>;
    Object.defineProperty(row, VALUES, { value: values });
    for (const [name, i] of named) row[name] = values[i];
    return row as unknown as Row;
  };
}
