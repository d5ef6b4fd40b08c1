/** `hookrelay replay`: not built yet (see the open issues). */
export async function runReplay(_args: string[]): Promise<number> {
  process.stderr.write("hookrelay replay: not available in this version yet\n");
  return 2;
}
