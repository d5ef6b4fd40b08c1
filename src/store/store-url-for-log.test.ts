import { expect, test } from "bun:test";
import { storeUrlForLog } from "./index.ts";

test("the store URL as the log names it: a PostgreSQL one alike in every line, never a password; others without userinfo or query", () => {
  expect(storeUrlForLog("postgres://relay:s3cret@db:5432/hookrelay?application_name=relay-a")).toBe("postgres://relay:***@db:5432/hookrelay?application_name=relay-a");
  expect(storeUrlForLog("postgresql://relay@db/hookrelay?password=s3cret")).toBe("postgresql://relay@db/hookrelay?password=***");
  expect(storeUrlForLog("file:./data/hookrelay.db?mode=rwc")).toBe("file:./data/hookrelay.db");
  expect(storeUrlForLog("libsql://db.example.com?authToken=abc")).toBe("libsql://db.example.com");
});
