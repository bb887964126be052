// JSON parsing that keeps large integers exact.
//
// Node ids are unsigned 64-bit integers, often above 2^53; JSON.parse would
// round them (16298147445003569694 -> 16298147445003570000). Before parsing,
// every integer literal outside a string that is not a safe JavaScript
// integer is turned into a string with its exact digits; after parsing,
// every `node_id` is a string, so the app handles ids one way only (and uses
// the decimal string in URLs). Works in every browser (no reliance on
// JSON.parse's `context.source`).

// A string literal (skipped as a whole) or a number literal.
const TOKEN = /"[^"\\]*(?:\\[\s\S][^"\\]*)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
const LONG_DIGITS = /\d{16}/;
const INTEGER = /^-?\d+$/;

/** Quotes the integer literals of `text` that are not safe JS integers. */
export function quoteBigInts(text) {
  if (!LONG_DIGITS.test(text)) return text; // fast path: no 16-digit run at all
  return text.replace(TOKEN, (tok) => {
    if (tok.charCodeAt(0) === 34 /* " */) return tok;
    if (!INTEGER.test(tok) || Number.isSafeInteger(Number(tok))) return tok;
    return '"' + tok + '"';
  });
}

function reviver(key, value) {
  if (key === 'node_id' && typeof value === 'number') return String(value);
  return value;
}

/** JSON.parse with exact large integers (as strings) and `node_id` always a string. */
export function parseJSON(text) {
  return JSON.parse(quoteBigInts(text), reviver);
}
