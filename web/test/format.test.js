import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clean, cut, fillBuckets, parseKeyValues, queryString, timeParam, fmtAgo } from '../src/lib/format.js';

test('clean shows control and bidi characters as escapes', () => {
  assert.equal(clean('a\nb\x1b[31m\u202eevil'), 'a\\nb\\x1b[31m\\u202eevil');
  assert.equal(clean(null), '');
  assert.equal(clean(42), '42');
  assert.equal(clean({ a: 1 }), '{"a":1}');
  assert.equal(clean('<script>'), '<script>');
});

test('cut', () => {
  assert.equal(cut('abcdef', 4), 'abc…');
  assert.equal(cut('abc', 4), 'abc');
});

test('fillBuckets zero-fills from since to now', () => {
  const [xs, ys] = fillBuckets(new Map([[120, 3], [240, 1]]), 60, 100, 250);
  assert.deepEqual(xs, [60, 120, 180, 240]);
  assert.deepEqual(ys, [0, 3, 0, 1]);
});

test('timeParam', () => {
  assert.equal(timeParam(''), null);
  assert.equal(timeParam('1705314600'), '1705314600');
  assert.equal(timeParam('2024-01-15T10:30:00Z'), '2024-01-15T10:30:00Z');
  assert.equal(timeParam('2024-01-15'), '2024-01-15');
  assert.equal(timeParam('-24h', 100000 * 1000), String(100000 - 86400));
  assert.equal(timeParam('15m', 100000 * 1000), String(100000 - 900));
  assert.equal(timeParam('yesterday'), undefined);
});

test('queryString drops empty values', () => {
  assert.equal(queryString({ a: '', b: null, c: 'x y', d: 0 }), '?c=x+y&d=0');
  assert.equal(queryString({}), '');
});

test('parseKeyValues', () => {
  assert.deepEqual(parseKeyValues('hostname = web01\n\n# c\nbanner=a=b\n'), { hostname: 'web01', banner: 'a=b' });
  assert.throws(() => parseKeyValues('x'), /line 1/);
});

test('fmtAgo', () => {
  assert.equal(fmtAgo(new Date(1000).toISOString(), 31000), '30 s ago');
  assert.equal(fmtAgo(null), 'never');
});

import { prettyJSON } from '../src/lib/format.js';
test('prettyJSON escapes bidi overrides and stays valid JSON', () => {
  const v = { u: 'a\u202eb', c: '\x1b' };
  const s = prettyJSON(v);
  assert.ok(!s.includes('\u202e'));
  assert.deepEqual(JSON.parse(s), v);
});
