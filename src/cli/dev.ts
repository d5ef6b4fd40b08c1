/** `hookrelay dev`: not built yet (see the open issues). */
export async function runDev(_args: string[]): Promise<number> {
  process.stderr.write("hookrelay dev: not available in this version yet\n");
  return 2;
}
