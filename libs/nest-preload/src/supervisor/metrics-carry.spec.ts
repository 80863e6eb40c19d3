import { carryCounters } from './metrics-carry';

const counter = (value: number, labels: Record<string, string> = { route: '/a' }) => ({
  name: 'http_requests_total',
  help: 'h',
  type: 'counter',
  aggregator: 'sum',
  values: [{ value, labels }],
});

describe('carryCounters (what the primary keeps of processes that are gone)', () => {
  it('sums counters series by series, keeps histograms whole and drops gauges', () => {
    const histogram = {
      name: 'latency',
      help: 'h',
      type: 'histogram',
      aggregator: 'sum',
      values: [
        { value: 2, labels: { le: 0.1 }, metricName: 'latency_bucket' },
        { value: 0.15, labels: {}, metricName: 'latency_sum' },
      ],
    };
    const gauge = { name: 'heap', help: 'h', type: 'gauge', aggregator: 'sum', values: [{ value: 99, labels: {} }] };
    let carried = carryCounters([], [counter(3), histogram, gauge]);
    carried = carryCounters(carried, [counter(4), counter(1, { route: '/b' }), histogram]);
    expect(carried.map((m) => m.name)).toEqual(['http_requests_total', 'latency']);
    expect(carried[0].values).toEqual([
      { value: 7, labels: { route: '/a' } },
      { value: 1, labels: { route: '/b' } },
    ]);
    expect(carried[1].values).toEqual([
      { value: 4, labels: { le: 0.1 }, metricName: 'latency_bucket' },
      { value: 0.3, labels: {}, metricName: 'latency_sum' },
    ]);
  });

  it('label order does not split a series; counters the cluster does not sum (first, omit) and malformed entries are left out; the input is not changed', () => {
    const a = counter(1, { a: '1', b: '2' });
    const carried = carryCounters(
      [],
      [
        a,
        { ...counter(5), name: 'firsts', aggregator: 'first' },
        null,
        { name: 'x', type: 'counter', values: 'no' },
        { ...counter(Number.NaN), name: 'nan' },
      ],
    );
    const again = carryCounters(carried, [counter(2, { b: '2', a: '1' })]);
    expect(again.map((m) => [m.name, m.values.map((v) => v.value)])).toEqual([
      ['http_requests_total', [3]],
      ['nan', []],
    ]);
    expect(carried[0].values[0].value).toBe(1);
    expect(a.values[0].value).toBe(1);
  });
});
