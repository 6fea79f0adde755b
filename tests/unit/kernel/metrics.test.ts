import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryMetrics, createMetrics, emfDocument, METRIC_NAMESPACE, METRIC_UNITS } from '../../../lib/kernel/metrics.ts';

const NOW = Date.parse('2026-11-23T20:00:00Z');

describe('metrics.emfDocument', () => {
  it('builds a CloudWatch EMF document with the dimension values and metric values at the root', () => {
    // Act
    const document = emfDocument({ TicketAgeSeconds: 321, ComponentTokenRemainingSeconds: 6000 }, { ComponentAppId: 'wx5ce1ab0c0ffee000' }, NOW);
    // Assess
    assert.deepEqual(document, {
      _aws: {
        Timestamp: NOW,
        CloudWatchMetrics: [
          {
            Namespace: 'WeChatComponent',
            Dimensions: [['ComponentAppId']],
            Metrics: [
              { Name: 'TicketAgeSeconds', Unit: 'Seconds' },
              { Name: 'ComponentTokenRemainingSeconds', Unit: 'Seconds' },
            ],
          },
        ],
      },
      ComponentAppId: 'wx5ce1ab0c0ffee000',
      TicketAgeSeconds: 321,
      ComponentTokenRemainingSeconds: 6000,
    });
  });

  it('uses one empty dimension set for metrics without dimensions', () => {
    // Act
    const document = emfDocument({ AuthorizerRefreshed: 200 }, {}, NOW) as { _aws: { CloudWatchMetrics: { Dimensions: unknown }[] } };
    // Assess
    assert.deepEqual(document._aws.CloudWatchMetrics[0]?.Dimensions, [[]]);
  });

  it('publishes the values with and without the dimensions when asked to roll up', () => {
    // Act
    const document = emfDocument({ ComponentTokenRemainingSeconds: 6000 }, { ComponentAppId: 'wx5ce1ab0c0ffee000' }, NOW, { rollup: true }) as {
      _aws: { CloudWatchMetrics: { Dimensions: unknown }[] };
    };
    // Assess
    assert.deepEqual(document._aws.CloudWatchMetrics[0]?.Dimensions, [['ComponentAppId'], []]);
  });

  it('rejects a metric name outside the contract the alarms rely on', () => {
    // Act + Assess
    assert.throws(() => emfDocument({ Refreshed: 1 } as never, {}, NOW), /unknown metric Refreshed/);
  });

  it('leaves out values that are not finite numbers', () => {
    // Act
    const document = emfDocument({ TicketAgeSeconds: Number.NaN, RefreshDue: 3 }, {}, NOW);
    // Assess
    assert.equal('TicketAgeSeconds' in document, false);
    assert.equal(document.RefreshDue, 3);
  });
});

describe('metrics.createMetrics', () => {
  it('writes one JSON line per put to the sink, stamped by the clock', () => {
    // Prepare
    const lines: string[] = [];
    const metrics = createMetrics({ sink: (line) => lines.push(line), clock: () => NOW });
    // Act
    metrics.put({ AuthorizerRefreshFailed: 2 }, { Errcode: '45009' });
    metrics.put({ NeedsReauth: 1 });
    // Assess
    assert.equal(lines.length, 2);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(first.Errcode, '45009');
    assert.equal(first.AuthorizerRefreshFailed, 2);
    assert.equal((first._aws as { Timestamp: number }).Timestamp, NOW);
    assert.equal(lines[0]!.includes('\n'), false);
  });

  it('writes nothing when no value is a finite number', () => {
    // Prepare
    const lines: string[] = [];
    const metrics = createMetrics({ sink: (line) => lines.push(line) });
    // Act
    metrics.put({ TicketAgeSeconds: Number.POSITIVE_INFINITY });
    metrics.put({});
    // Assess
    assert.deepEqual(lines, []);
  });

  it('declares exactly the metric names the alarms use, in namespace WeChatComponent', () => {
    // Assess
    assert.equal(METRIC_NAMESPACE, 'WeChatComponent');
    assert.deepEqual(Object.keys(METRIC_UNITS).sort(), [
      'AuthorizationPageQuotaExhausted',
      'AuthorizerRefreshFailed',
      'AuthorizerRefreshed',
      'ComponentTokenRefreshFailed',
      'ComponentTokenRemainingSeconds',
      'EventDeliveryFailed',
      'EventRetryScheduled',
      'EventsDelivered',
      'EventsUndeliverable',
      'JsapiTicketFailed',
      'MessageForInactiveAccount',
      'NeedsReauth',
      'ReconcileRecovered',
      'ReconcileUnlisted',
      'RefreshCircuitOpen',
      'RefreshDue',
      'RefreshSkipped',
      'RefreshWorkersNotStarted',
      'StreamEventDropped',
      'TicketAgeSeconds',
    ]);
  });
});

describe('metrics.createMemoryMetrics', () => {
  it('sums one metric across lines, filtered by dimensions', () => {
    // Prepare
    const metrics = createMemoryMetrics(() => NOW);
    // Act
    metrics.put({ AuthorizerRefreshFailed: 2 }, { Errcode: '45009' });
    metrics.put({ AuthorizerRefreshFailed: 1 }, { Errcode: '-1' });
    // Assess
    assert.equal(metrics.sum('AuthorizerRefreshFailed'), 3);
    assert.equal(metrics.sum('AuthorizerRefreshFailed', { Errcode: '-1' }), 1);
    assert.equal(metrics.sum('NeedsReauth'), 0);
  });
});
