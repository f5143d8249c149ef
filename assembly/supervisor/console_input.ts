// The supervisor's console input exports, for the stub (boot/console_input.c
// through linker/console_glue.c). The decisions are made in console_focus.ts
// and monitor.ts, which print through a sink; at instantiation, this file
// makes that sink the host console.

import { consoleWrite } from "./host";
import { setConsoleOutput } from "./console_focus";

function writeConsole(pointer: usize, length: u32): void {
  consoleWrite(pointer, length);
}

setConsoleOutput(writeConsole);

export { consoleInput, consoleInputReleased, consoleFocus } from "./console_focus";
