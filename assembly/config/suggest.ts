// "Did you mean": the known word nearest to a misspelt one.

// Words longer than this are never close to a known key.
const MAX_WORD: u32 = 32;
// Three rows of the distance table (previous-but-one, previous, current).
const ROW_WORDS: u32 = MAX_WORD + 1;
const ROWS: usize = memory.data(<i32>(3 * ROW_WORDS * 4), 16);

// Edit distance between the bytes and `word`, ignoring ASCII case: the
// fewest insertions, deletions, substitutions and swaps of neighbours
// ("memroy" -> "memory" is 1). Answers u32.MAX_VALUE for words too long to
// compare.
export function editDistance(pointer: usize, length: u32, word: string): u32 {
  let wordLength = <u32>word.length;
  if (length > MAX_WORD || wordLength > MAX_WORD) return u32.MAX_VALUE;
  let before = ROWS;
  let previous = ROWS + <usize>(ROW_WORDS * 4);
  let current = ROWS + <usize>(2 * ROW_WORDS * 4);
  for (let j: u32 = 0; j <= wordLength; j++) store<u32>(previous + <usize>(j * 4), j);
  for (let i: u32 = 1; i <= length; i++) {
    store<u32>(current, i);
    let a = lower(<u32>load<u8>(pointer + <usize>(i - 1)));
    for (let j: u32 = 1; j <= wordLength; j++) {
      let b = lower(<u32>word.charCodeAt(<i32>(j - 1)));
      let cost: u32 = a == b ? 0 : 1;
      let best = load<u32>(previous + <usize>(j * 4)) + 1; // deletion
      let insertion = load<u32>(current + <usize>((j - 1) * 4)) + 1;
      if (insertion < best) best = insertion;
      let substitution = load<u32>(previous + <usize>((j - 1) * 4)) + cost;
      if (substitution < best) best = substitution;
      if (i > 1 && j > 1 && a == lower(<u32>word.charCodeAt(<i32>(j - 2))) &&
          lower(<u32>load<u8>(pointer + <usize>(i - 2))) == b) {
        let swap = load<u32>(before + <usize>((j - 2) * 4)) + 1;
        if (swap < best) best = swap;
      }
      store<u32>(current + <usize>(j * 4), best);
    }
    let spare = before;
    before = previous;
    previous = current;
    current = spare;
  }
  return load<u32>(previous + <usize>(wordLength * 4));
}

// The word of `words` nearest to the bytes, if at most `maxDistance` edits
// away (the first one on a tie); "" if none is.
export function closestWord(pointer: usize, length: u32, words: StaticArray<string>, maxDistance: u32 = 2): string {
  let best = "";
  let bestDistance = maxDistance + 1;
  for (let i = 0; i < words.length; i++) {
    let distance = editDistance(pointer, length, unchecked(words[i]));
    if (distance < bestDistance) {
      best = unchecked(words[i]);
      bestDistance = distance;
    }
  }
  return best;
}

function lower(c: u32): u32 {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}
