/**
 * The database's own clock in integer ms. Lease expiry is judged on it, not
 * on a process clock, so that several processes on one store (each with its
 * own, possibly skewed or fake, clock) agree on when a lease has run out.
 */
export const DB_NOW_MS = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";
