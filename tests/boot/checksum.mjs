// Adler-32 of a console line's text, as the test guests compute it
// (tests/guests/flood.c, soak.c) to prove a line arrived whole.
export function adler32(s) {
  let a = 1, b = 0;
  for (let i = 0; i < s.length; i++) {
    a = (a + s.charCodeAt(i)) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}
