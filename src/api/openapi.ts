import { z } from 'zod';

import { ERROR_CATALOGUE } from '../errors.js';
import type { AnyRoute } from './route.js';

type Json = Record<string, unknown>;

const toSchema = (s: z.ZodType, io: 'input' | 'output'): Json => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Json;
  return rest;
};

export const ErrorBody = z.object({
  error: z.object({
    code: z.enum(Object.keys(ERROR_CATALOGUE) as [string, ...string[]]),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
  }),
});

/** OpenAPI 3.1 description of exactly the routes mounted (a test checks both lists agree). */
export function buildOpenApi(
  routes: readonly AnyRoute[],
  info: { version: string; serverUrl?: string },
): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    const path = r.path.replace(
      /:([A-Za-z0-9_]+)(\.[a-z]+)?/g,
      (_m, name: string, ext?: string) => `{${name}}${ext ?? ''}`,
    );
    const parameters: Json[] = [];
    const addParams = (schema: z.ZodType | undefined, where: 'path' | 'query') => {
      if (!schema) return;
      const js = toSchema(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
      for (const [name, prop] of Object.entries(js.properties ?? {})) {
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (js.required ?? []).includes(name),
          schema: prop,
          ...(typeof prop['description'] === 'string' && { description: prop['description'] }),
        });
      }
    };
    addParams(r.params, 'path');
    addParams(r.query, 'query');
    const responses: Record<string, Json> = {};
    for (const [status, doc] of Object.entries(r.responses)) {
      const contentType = doc.contentType ?? 'application/json';
      responses[status] = {
        description: doc.description,
        ...(doc.schema && { content: { [contentType]: { schema: toSchema(doc.schema, 'output') } } }),
        ...(!doc.schema && doc.contentType && { content: { [contentType]: {} } }),
      };
    }
    if (r.access !== 'public') {
      responses['401'] ??= {
        description: 'No valid API key',
        content: { 'application/json': { schema: toSchema(ErrorBody, 'output') } },
      };
      responses['403'] ??= {
        description: `Needs role ${r.access} or higher`,
        content: { 'application/json': { schema: toSchema(ErrorBody, 'output') } },
      };
    }
    responses['default'] ??= {
      description: 'Error',
      content: { 'application/json': { schema: toSchema(ErrorBody, 'output') } },
    };
    (paths[path] ??= {})[r.method] = {
      summary: r.summary,
      ...(r.description && { description: r.description }),
      tags: r.tags,
      operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ? c.toUpperCase() : ''))}`,
      ...(parameters.length > 0 && { parameters }),
      ...(r.body &&
        r.bodyType !== 'raw' && {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: toSchema(r.body, 'input') } },
          },
        }),
      ...(r.bodyType === 'raw' && { requestBody: { required: true, content: { 'application/json': {} } } }),
      security: r.access === 'public' ? [] : [{ apiKey: [] }],
      ...(r.access !== 'public' && { 'x-required-role': r.access }),
      // Which practice the route touches (api/scope.ts): integrators see what a practice-limited key may do.
      'x-practice-scope': r.scope,
      ...(r.everyPracticeAccess && { 'x-every-practice-role': r.everyPracticeAccess }),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'passerelle admin API',
      version: info.version,
      description: 'Admin, supervision, webhooks and iCal feeds of passerelle.',
    },
    ...(info.serverUrl && { servers: [{ url: info.serverUrl }] }),
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An API key `psk_…` (passerelle apikey create --role admin|integrator|viewer). Also accepted as header X-API-Key.',
        },
      },
    },
  };
}
