// live.js is imported as text (`with { type: "text" }`) so `bun build --compile` embeds it.
declare const text: string;
export default text;
