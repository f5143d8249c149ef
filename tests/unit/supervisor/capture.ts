// A line sink for the supervisor's printing (LineSink), and what it got.

let printed = "";

export function capture(pointer: usize, length: u32): void {
  printed += String.UTF8.decodeUnsafe(pointer, length);
}

// What was printed since the last call.
export function output(): string {
  let text = printed;
  printed = "";
  return text;
}
