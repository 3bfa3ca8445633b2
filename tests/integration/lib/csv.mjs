// A CSV reader of the tests' own (nothing of pickaxe), for independent
// computations on the shared data sets.

/** Every record of a CSV text (RFC 4180: quoted fields may hold commas,
 * doubled quotes and line breaks), each with the physical line it starts on. */
export function* csvRecords(text) {
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const start = line;
    const rec = [];
    for (;;) {
      let f = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          const j = text.indexOf('"', i);
          if (j < 0) throw new Error(`line ${start}: unterminated quote`);
          const piece = text.slice(i, j);
          for (let k = piece.indexOf('\n'); k >= 0; k = piece.indexOf('\n', k + 1)) line++;
          f += piece;
          i = j + 1;
          if (text[i] !== '"') break;
          f += '"';
          i++;
        }
      } else {
        let j = i;
        while (j < n && text[j] !== ',' && text[j] !== '\n' && text[j] !== '\r') j++;
        f = text.slice(i, j);
        i = j;
      }
      rec.push(f);
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') i++;
      line++;
      break;
    }
    yield { line: start, rec };
  }
}
