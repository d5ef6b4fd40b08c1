/** `hookrelay listen`: not built yet (see the open issues). */
export async function runListen(_args: string[]): Promise<number> {
  process.stderr.write("hookrelay listen: not available in this version yet\n");
  return 2;
}
