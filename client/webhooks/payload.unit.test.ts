import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { samplesDir } from '../../activities/mapping/samples.js';
import { parseWebhookBody, signatureMatches, WebhookPayloadError } from './payload.js';

const sample = (name: string) => readFileSync(path.join(samplesDir, name));

describe('webhooks: payload', () => {
  it("reads both of Intuit's legacy samples", () => {
    const docs = parseWebhookBody(sample('webhook-legacy-docs.source-intuit-docs.json'));
    expect(docs.format).toBe('legacy');
    expect(docs.events.map(({ eventId: _id, ...rest }) => rest)).toEqual([
      { realmId: '1185883450', entity: 'customer', operation: 'Create', entityId: '1', deletedId: null },
      { realmId: '1185883450', entity: 'vendor', operation: 'Create', entityId: '1', deletedId: null },
    ]);
    // Legacy events have no id: each gets one from what it says, the same on every delivery.
    expect(docs.events[0]!.eventId).toMatch(/^legacy:/);
    expect(docs.events[0]!.eventId).not.toBe(docs.events[1]!.eventId);
    expect(parseWebhookBody(sample('webhook-legacy-docs.source-intuit-docs.json')).events[0]!.eventId).toBe(
      docs.events[0]!.eventId,
    );
    const blog = parseWebhookBody(sample('webhook-legacy.source-intuit-blog.json'));
    expect(blog.events).toMatchObject([
      { realmId: '310687', entity: 'account', operation: 'Create', entityId: '1234' },
    ]);
  });

  it("reads Intuit's CloudEvents samples, a merge's deletedid and an update without data", () => {
    const created = parseWebhookBody(sample('webhook-cloudevents-created.source-intuit-blog.json'));
    expect(created.format).toBe('cloudevents');
    expect(created.events).toEqual([
      {
        eventId: '88cd52aa-33b6-4351-9aa4-47572edbd068',
        realmId: '310687',
        entity: 'account',
        operation: 'Create',
        entityId: '1234',
        deletedId: null,
      },
    ]);
    expect(parseWebhookBody(sample('webhook-cloudevents-merged.source-intuit-docs.json')).events).toMatchObject([
      { entity: 'customer', operation: 'Merge', entityId: '123', deletedId: '27' },
    ]);
    expect(parseWebhookBody(sample('webhook-cloudevents-updated-nodata.source-intuit-docs.json')).events).toMatchObject(
      [{ entity: 'salesreceipt', operation: 'Update', entityId: '150', deletedId: null }],
    );
  });

  it('reads a legacy merge with deletedId, and keeps operations and verbs it does not know', () => {
    const legacy = Buffer.from(
      JSON.stringify({
        eventNotifications: [
          {
            realmId: '9',
            dataChangeEvent: { entities: [{ name: 'Customer', id: '5', operation: 'Merge', deletedId: '6' }] },
          },
        ],
      }),
    );
    expect(parseWebhookBody(legacy).events).toMatchObject([{ operation: 'Merge', entityId: '5', deletedId: '6' }]);
    const unknownVerb = Buffer.from(
      JSON.stringify([{ id: 'e1', type: 'qbo.invoice.archived.v1', intuitentityid: 7, intuitaccountid: '9' }]),
    );
    expect(parseWebhookBody(unknownVerb).events).toMatchObject([{ operation: 'archived', entityId: '7' }]);
  });

  it.each([
    ['{"eventNotifications":', /not JSON/],
    ['{"hello":"world"}', /neither a CloudEvents array nor a legacy object/],
    ['[]', /no events/],
    ['{"eventNotifications":{}}', /eventNotifications is not an array/],
    ['{"eventNotifications":[{"dataChangeEvent":{"entities":[]}}]}', /eventNotifications\[0\]\.realmId is missing/],
    ['{"eventNotifications":[{"realmId":"1"}]}', /eventNotifications\[0\]\.dataChangeEvent\.entities is not an array/],
    ['[{"id":"a","type":"qbo.customer.updated.v1","intuitentityid":"1"}]', /event \[0\]\.intuitaccountid is missing/],
    [
      '[{"id":"","type":"qbo.customer.updated.v1","intuitentityid":"1","intuitaccountid":"2"}]',
      /event \[0\]\.id must be/,
    ],
    ['[{"id":"a","type":"customer","intuitentityid":"1","intuitaccountid":"2"}]', /is not qbo.<entity>.<event>.v1/],
    ['[42]', /event \[0\] is not an object/],
  ])('refuses %s, saying what is wrong', (body, message) => {
    expect(() => parseWebhookBody(Buffer.from(body))).toThrow(WebhookPayloadError);
    expect(() => parseWebhookBody(Buffer.from(body))).toThrow(message);
  });

  it('checks intuit-signature as base64 HMAC-SHA256 of the raw bytes with the verifier token', () => {
    const body = sample('webhook-legacy.source-intuit-blog.json');
    const signature = createHmac('sha256', 'verifier').update(body).digest('base64');
    expect(signatureMatches(body, signature, 'verifier')).toBe(true);
    expect(signatureMatches(body, signature, 'another token')).toBe(false);
    // The same JSON re-serialised is other bytes: the signature is over what was sent.
    expect(signatureMatches(Buffer.from(JSON.stringify(JSON.parse(body.toString()))), signature, 'verifier')).toBe(
      false,
    );
    expect(signatureMatches(body, undefined, 'verifier')).toBe(false);
    expect(signatureMatches(body, 'not base64 at all', 'verifier')).toBe(false);
    expect(signatureMatches(body, signature.slice(0, -4), 'verifier')).toBe(false);
  });
});
