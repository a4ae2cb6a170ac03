// Turns Ajv errors into one sentence naming the field (items[3].text) and, for limits, the setting and its value.
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { OPENAI_MAX_INPUTS } from './body-limits.ts';
import { HttpError } from './errors.ts';
import { TEXT_RULES } from './text-checks.ts';

/** The setting behind each limit keyword used in the schemas. */
const LIMIT_SETTING: Readonly<Record<string, string>> = { maxLength: 'MAX_TEXT_LENGTH', maxItems: 'MAX_BATCH_SIZE' };

export function fieldName(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

function describe(error: FastifySchemaValidationError, field: string): string {
  const p = error.params;
  const name = field || 'request body';
  switch (error.keyword) {
    case 'required': {
      const missing = String(p.missingProperty);
      return `${field ? `${field}.` : ''}${missing} is required`;
    }
    case 'type':
      return `${name} must be ${article(String(p.type))}`;
    case 'maxLength':
      return `${name} is longer than ${LIMIT_SETTING.maxLength} (${String(p.limit)} characters)`;
    case 'minLength':
      return `${name} must not be empty`;
    case 'maxItems':
      return p.limit === OPENAI_MAX_INPUTS
        ? `${name} has more than ${OPENAI_MAX_INPUTS} items (the most one OpenAI embeddings request may carry)`
        : `${name} has more than ${LIMIT_SETTING.maxItems} (${String(p.limit)}) items`;
    case 'pattern': {
      // allOf's patterns run before minLength; an empty text still reads as empty.
      if ((error as { data?: unknown }).data === '') return `${name} must not be empty`;
      const rule = TEXT_RULES.find((r) => r.pattern === p.pattern);
      return rule ? `${name} ${rule.problem}` : `${name} must match ${String(p.pattern)}`;
    }
    case 'not': {
      // Only used for fields that exclude each other: { not: { type: 'object', required: [a, b] } } (Ajv's verbose mode gives the schema).
      const both = (error as { schema?: { required?: string[] } }).schema?.required;
      return both ? `send either ${both.join(' or ')}, not both` : `${name} is invalid`;
    }
    case 'minItems':
      return `${name} must not be empty`;
    case 'additionalProperties':
      return `${name} has an unknown field ${JSON.stringify(p.additionalProperty)}`;
    case 'enum':
      return `${name} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'minimum':
    case 'maximum':
      return `${name} must be ${error.keyword === 'minimum' ? '>=' : '<='} ${String(p.limit)}`;
    default:
      return `${name} ${error.message ?? 'is invalid'}`;
  }
}

function article(type: string): string {
  const types = type.split(',');
  const named = types.map((t) => (t === 'array' || t === 'object' || t === 'integer' ? `an ${t}` : `a ${t}`));
  return named.join(' or ');
}

/**
 * Picks the most specific problem: the deepest field; there, a failed constraint beats a type mismatch (it means
 * the type matched in one anyOf branch), and several type mismatches read as "a string or an array".
 */
export function formatValidation(errors: readonly FastifySchemaValidationError[]): string {
  const relevant = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  if (relevant.length === 0) return errors[0] ? describe(errors[0], fieldName(errors[0].instancePath)) : 'invalid request';
  const depth = (e: FastifySchemaValidationError) => e.instancePath.split('/').length + (e.keyword === 'required' ? 1 : 0);
  const deepest = Math.max(...relevant.map(depth));
  const atDeepest = relevant.filter((e) => depth(e) === deepest);
  const constraint = atDeepest.find((e) => e.keyword !== 'type');
  const first = constraint ?? atDeepest[0]!;
  const field = fieldName(first.instancePath);
  const missing = atDeepest.filter((e) => e.keyword === 'required')
    .map((e) => String((e.params as { missingProperty: unknown }).missingProperty));
  if (missing.length > 1 && missing.length === atDeepest.length) {
    // anyOf of alternatives, none sent: name them all.
    return `${field ? `${field}.` : ''}${missing.join(' or ')} is required`;
  }
  if (!constraint && atDeepest.length > 1) {
    const types = atDeepest.map((e) => String((e.params as { type: unknown }).type));
    return `${field || 'request body'} must be ${article(types.join(','))}`;
  }
  return describe(first, field);
}

export function validationError(errors: FastifySchemaValidationError[]): HttpError {
  return new HttpError('validation', formatValidation(errors));
}
