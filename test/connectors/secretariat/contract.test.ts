import { readFileSync } from 'node:fs';

import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { z } from 'zod';

import * as C from '../../../connectors/secretariat/contract.js';
import { buildRoutes } from '../../../connectors/secretariat/simulator/app.js';
import { Platform } from '../../../connectors/secretariat/simulator/platform.js';
import { SimulatorState } from '../../../connectors/secretariat/simulator/state.js';

const FILE = 'connectors/secretariat/openapi.yaml';
type Json = Record<string, unknown>;
const doc = parse(readFileSync(FILE, 'utf8')) as {
  openapi: string;
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json> };
  webhooks: Json;
};
const METHODS = ['get', 'post', 'put', 'delete', 'patch'] as const;

function operations(): { method: string; path: string; op: Json; pathParams: Json[] }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m] !== undefined).map((m) => ({
      method: m,
      path,
      op: item[m] as Json,
      pathParams: (item['parameters'] as Json[] | undefined) ?? [],
    })),
  );
}

function resolve(root: Json, node: Json): Json {
  let n = node;
  for (let i = 0; i < 10 && typeof n['$ref'] === 'string'; i++) {
    const path = (n['$ref'] as string).replace(/^#\//, '').split('/');
    n = path.reduce<Json>((acc, k) => acc[k] as Json, root);
  }
  return n;
}

type Shape = string | { props: Record<string, Shape>; required: string[] } | { items: Shape };
/** Property names, required lists and enums, recursively: what both descriptions must agree on. */
function shape(root: Json, input: Json): Shape {
  const node = resolve(root, input);
  const branches = (node['anyOf'] ?? node['oneOf']) as Json[] | undefined;
  if (branches) {
    const nonNull = branches.map((b) => resolve(root, b)).filter((b) => b['type'] !== 'null');
    if (nonNull.length === 1) return shape(root, nonNull[0] as Json);
  }
  const types = ([] as unknown[]).concat(node['type'] ?? []);
  if (types.includes('object') || node['properties'] !== undefined) {
    const props = (node['properties'] ?? {}) as Record<string, Json>;
    return {
      props: Object.fromEntries(Object.entries(props).map(([k, v]) => [k, shape(root, v)])),
      required: [...((node['required'] as string[]) ?? [])].sort(),
    };
  }
  if (types.includes('array')) return { items: shape(root, node['items'] as Json) };
  if (Array.isArray(node['enum']))
    return `enum:${(node['enum'] as unknown[])
      .filter((v) => v !== null)
      .map(String)
      .sort()
      .join('|')}`;
  if (node['const'] !== undefined) return `enum:${String(node['const'])}`;
  return 'leaf';
}

const PAIRS: Record<string, z.ZodType> = {
  PractitionerInput: C.PractitionerInput,
  Practitioner: C.Practitioner,
  AppointmentTypeInput: C.AppointmentTypeInput,
  AppointmentType: C.AppointmentType,
  ScheduleInput: C.ScheduleInput,
  Schedule: C.Schedule,
  SlotInput: C.SlotInput,
  Slot: C.Slot,
  AppointmentCreate: C.AppointmentCreate,
  AppointmentUpdate: C.AppointmentUpdate,
  Appointment: C.Appointment,
  CancelRequest: C.CancelRequest,
  RefuseRequest: C.RefuseRequest,
  PatientInput: C.PatientInput,
  Patient: C.Patient,
  MessageCreate: C.MessageCreate,
  MessageUpdate: C.MessageUpdate,
  Message: C.Message,
  AcknowledgeRequest: C.AcknowledgeRequest,
  CallbackRequestCreate: C.CallbackRequestCreate,
  CallbackRequest: C.CallbackRequest,
  CallbackRequestList: C.CallbackRequestList,
  ConsignesPublish: C.ConsignesPublish,
  Consignes: C.Consignes,
  ReminderCreate: C.ReminderCreate,
  ReminderBatch: C.ReminderBatch,
  Reminder: C.Reminder,
  ReminderList: C.ReminderList,
  ReminderOutcomeReport: C.ReminderOutcomeReport,
  CallStatistics: C.CallStatistics,
  Change: C.Change,
  ChangesPage: C.ChangesPage,
  WebhookPayload: C.WebhookPayload,
  Problem: C.Problem,
};

describe('secretariat contract (openapi.yaml)', () => {
  it('is a valid OpenAPI 3.1 document whose references all resolve', async () => {
    expect(doc.openapi).toBe('3.1.0');
    // Validates against the official OpenAPI 3.1 JSON Schema and dereferences every $ref.
    await expect(SwaggerParser.validate(FILE)).resolves.toBeDefined();
  });

  it('gives every operation a unique operationId, a tag, a summary and an error response', () => {
    const ids = operations().map((o) => o.op['operationId']);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { method, path, op } of operations()) {
      expect([
        method,
        path,
        typeof op['operationId'],
        Array.isArray(op['tags']),
        typeof op['summary'],
      ]).toEqual([method, path, 'string', true, 'string']);
      expect(Object.keys(op['responses'] as Json)).toContain('default');
    }
  });

  it('requires an Idempotency-Key on every POST and If-Match on every PUT and DELETE of an existing resource', () => {
    const root = doc as unknown as Json;
    for (const { method, path, op } of operations()) {
      const params = ((op['parameters'] as Json[] | undefined) ?? []).map((p) => resolve(root, p));
      const header = (name: string) => params.find((p) => p['in'] === 'header' && p['name'] === name);
      if (method === 'post') expect([path, header('Idempotency-Key')?.['required']]).toEqual([path, true]);
      // Created with If-None-Match: * and replaced with If-Match: appointment types, and the
      // documents passerelle publishes (published slots, coverage windows).
      const createOrReplace = /appointment-types|published-slots|\/coverage$/.test(path);
      if (method === 'delete' || (method === 'put' && !createOrReplace))
        expect([path, header('If-Match')?.['required']]).toEqual([path, true]);
    }
  });

  it('gives every resource id, version and updatedAt', () => {
    for (const name of [
      'Practitioner',
      'AppointmentType',
      'Schedule',
      'Slot',
      'Appointment',
      'Patient',
      'Message',
    ]) {
      const s = doc.components.schemas[name] as { required: string[] };
      expect([name, ...['id', 'version', 'updatedAt'].filter((k) => s.required.includes(k))]).toEqual([
        name,
        'id',
        'version',
        'updatedAt',
      ]);
    }
  });

  it('describes the same fields, required lists and enums as the schemas the connector and simulator validate with', () => {
    const root = doc as unknown as Json;
    for (const [name, schema] of Object.entries(PAIRS)) {
      const fromYaml = shape(root, doc.components.schemas[name] as Json);
      const js = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as Json;
      const fromZod = shape(js, js);
      expect({ name, shape: fromYaml }).toEqual({ name, shape: fromZod });
    }
  });

  it('lists exactly the operations the simulator serves', () => {
    const routes = buildRoutes(
      new Platform(new SimulatorState(undefined), Date.now, () => undefined),
      new SimulatorState(undefined),
    );
    const served = routes.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort();
    const documented = operations()
      .map((o) => `${o.method.toUpperCase()} ${o.path}`)
      .sort();
    expect(served).toEqual(documented);
  });

  it('documents the signed change webhook with the Standard Webhooks headers', () => {
    const post = (doc.webhooks['change'] as Json)['post'] as { parameters: Json[] };
    expect(post.parameters.map((p) => [p['name'], p['in'], p['required']])).toEqual([
      ['webhook-id', 'header', true],
      ['webhook-timestamp', 'header', true],
      ['webhook-signature', 'header', true],
    ]);
  });
});
