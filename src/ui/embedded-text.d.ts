// CSS is imported as text (`with { type: "text" }`) so `bun build --compile` embeds it.
declare module "*.css" {
  const text: string;
  export default text;
}
