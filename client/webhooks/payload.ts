import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { NewWebhookEvent, WebhookDelivery } from '../../db/repositories/webhook-events.js';

/**
 * Intuit's two webhook formats, read into one list of events. Legacy:
 * `{"eventNotifications":[{"realmId","dataChangeEvent":{"entities":[{name,id,operation,lastUpdated,deletedId?}]}}]}`;
 * CloudEvents: `[{id,type:"qbo.<entity>.<verb>.v1",intuitentityid,intuitaccountid,data?:{deletedid?}}]`
 * (shared/reference/qbo-api.md section 4). Only what routing needs is required; entity names,
 * operations and verbs Intuit adds later are kept as they come rather than refused, because a
 * refused delivery is retried whole and holds back every later one.
 */
export class WebhookPayloadError extends Error {
  override readonly name = 'WebhookPayloadError';
}

/** Whether `intuit-signature` is base64(HMAC-SHA256(verifier token, raw body)), compared in constant time. */
export function signatureMatches(rawBody: Buffer, signature: string | undefined, verifierToken: string): boolean {
  if (signature === undefined || signature === '') return false;
  const expected = createHmac('sha256', verifierToken).update(rawBody).digest();
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const cloudEventVerbs: Readonly<Record<string, string>> = {
  created: 'Create',
  updated: 'Update',
  deleted: 'Delete',
  merged: 'Merge',
  voided: 'Void',
  emailed: 'Emailed',
};

/** The delivery's events; throws WebhookPayloadError naming what is wrong. */
export function parseWebhookBody(rawBody: Buffer): WebhookDelivery {
  let body: unknown;
  try {
    body = JSON.parse(rawBody.toString('utf8'));
  } catch (error) {
    throw new WebhookPayloadError(`the body is not JSON (${(error as Error).message})`);
  }
  const bodySha256 = createHash('sha256').update(rawBody).digest('hex');
  if (Array.isArray(body)) return { format: 'cloudevents', bodySha256, events: nonEmpty(body.map(cloudEvent)) };
  if (isObject(body) && 'eventNotifications' in body) {
    const notifications = body['eventNotifications'];
    if (!Array.isArray(notifications)) throw new WebhookPayloadError('eventNotifications is not an array');
    return { format: 'legacy', bodySha256, events: nonEmpty(notifications.flatMap(legacyEvents)) };
  }
  throw new WebhookPayloadError('the body is neither a CloudEvents array nor a legacy object with eventNotifications');
}

function nonEmpty(events: NewWebhookEvent[]): NewWebhookEvent[] {
  if (events.length === 0) throw new WebhookPayloadError('the delivery holds no events');
  return events;
}

function cloudEvent(event: unknown, index: number): NewWebhookEvent {
  const at = `event [${index}]`;
  if (!isObject(event)) throw new WebhookPayloadError(`${at} is not an object`);
  const type = text(event, 'type', at);
  const [product, entity, verb] = type.split('.');
  if (product !== 'qbo' || !entity || !verb) {
    throw new WebhookPayloadError(`${at}.type "${type}" is not qbo.<entity>.<event>.v1`);
  }
  const data = event['data'];
  const deletedId = isObject(data) && data['deletedid'] !== undefined ? text(data, 'deletedid', `${at}.data`) : null;
  return {
    eventId: text(event, 'id', at),
    realmId: text(event, 'intuitaccountid', at),
    entity: entity.toLowerCase(),
    operation: cloudEventVerbs[verb] ?? verb,
    entityId: text(event, 'intuitentityid', at),
    deletedId,
  };
}

function legacyEvents(notification: unknown, index: number): NewWebhookEvent[] {
  const at = `eventNotifications[${index}]`;
  if (!isObject(notification)) throw new WebhookPayloadError(`${at} is not an object`);
  const realmId = text(notification, 'realmId', at);
  const change = notification['dataChangeEvent'];
  const entities = isObject(change) ? change['entities'] : undefined;
  if (!Array.isArray(entities)) throw new WebhookPayloadError(`${at}.dataChangeEvent.entities is not an array`);
  return entities.map((entity: unknown, position) => {
    const where = `${at}.dataChangeEvent.entities[${position}]`;
    if (!isObject(entity)) throw new WebhookPayloadError(`${where} is not an object`);
    const name = text(entity, 'name', where);
    const id = text(entity, 'id', where);
    const operation = text(entity, 'operation', where);
    const lastUpdated = entity['lastUpdated'] === undefined ? '' : text(entity, 'lastUpdated', where);
    const deletedId = entity['deletedId'] === undefined ? null : text(entity, 'deletedId', where);
    // A legacy event has no id: what it says identifies it, so Intuit's retry of it is a duplicate.
    const identity = JSON.stringify([realmId, name, id, operation, lastUpdated, deletedId]);
    return {
      eventId: `legacy:${createHash('sha256').update(identity).digest('base64url')}`,
      realmId,
      entity: name.toLowerCase(),
      operation,
      entityId: id,
      deletedId,
    };
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A field that must be a non-empty string (ids may come as numbers: they are read as text). */
function text(object: Record<string, unknown>, key: string, at: string): string {
  const value = object[key];
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string' || value.trim() === '') {
    throw new WebhookPayloadError(
      value === undefined ? `${at}.${key} is missing` : `${at}.${key} must be a non-empty string`,
    );
  }
  if (value.length > 200) throw new WebhookPayloadError(`${at}.${key} is longer than 200 characters`);
  return value;
}
