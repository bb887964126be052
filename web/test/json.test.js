import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJSON, quoteBigInts } from '../src/lib/json.js';

test('keeps uint64 node ids exact, as strings', () => {
  const v = parseJSON('{"count":1,"nodes":[{"node_id":16298147445003569694,"name":"a"}]}');
  assert.equal(v.nodes[0].node_id, '16298147445003569694');
  assert.equal(v.count, 1);
});

test('small node ids become strings too', () => {
  assert.equal(parseJSON('{"node_id":61}').node_id, '61');
  assert.equal(parseJSON('{"type":"event","node_id":18446744073709551615,"data":{"node_id":18446744073709551615}}').data.node_id,
    '18446744073709551615');
});

test('digits inside strings are untouched, escaped quotes handled', () => {
  const text = '{"a":"x\\"12345678901234567890\\" y","b":12345678901234567890,"c":1.5e300,"d":-9007199254740993}';
  const v = parseJSON(text);
  assert.equal(v.a, 'x"12345678901234567890" y');
  assert.equal(v.b, '12345678901234567890');
  assert.equal(v.c, 1.5e300);
  assert.equal(v.d, '-9007199254740993');
});

test('safe integers stay numbers; fractions are not quoted', () => {
  assert.equal(quoteBigInts('[9007199254740991, 1234567890123456.5]'), '[9007199254740991, 1234567890123456.5]');
  assert.deepEqual(parseJSON('[9007199254740991]'), [9007199254740991]);
});

test('large integers deep in raw records keep their digits', () => {
  const v = parseJSON('{"raw":{"n":[1,{"id":99999999999999999999}]}}');
  assert.equal(v.raw.n[1].id, '99999999999999999999');
});
