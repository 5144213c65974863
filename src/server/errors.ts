/**
 * API errors: one JSON shape for every failure, built from the error registry (src/errors.ts).
 * `pointer` is a JSON pointer into the part of the request named by `in`.
 */
import { ERROR_CODES, type ErrorCode, RivetError } from '../errors.ts';

export interface ErrorDetail {
  readonly pointer: string;
  readonly message: string;
  readonly code?: string;
  readonly line?: number;
  readonly col?: number;
  readonly hint?: string;
}

export interface ErrorBody {
  readonly statusCode: number;
  readonly code: ErrorCode;
  readonly error: string;
  readonly message: string;
  readonly in?: 'body' | 'querystring' | 'params' | 'headers';
  readonly pointer?: string;
  readonly hint?: string;
  readonly details?: readonly ErrorDetail[];
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  RV601: 400,
  RV602: 404,
  RV603: 409,
  RV604: 409,
  RV606: 503,
  RV702: 401,
  RV703: 403,
  RV704: 404,
  RV705: 400,
  RV706: 413,
  RV707: 429,
  RV708: 409,
  RV709: 415,
  RV710: 503,
  RV711: 400,
};

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly extra: Omit<ErrorBody, 'statusCode' | 'code' | 'error' | 'message'>;

  constructor(code: ErrorCode, message: string, extra: ApiError['extra'] = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.statusCode = STATUS[code] ?? 400;
    this.extra = extra;
  }

  body(): ErrorBody {
    return {
      statusCode: this.statusCode,
      code: this.code,
      error: ERROR_CODES[this.code].name,
      message: this.message,
      ...this.extra,
    };
  }
}

export const notFound = (what: string): ApiError => new ApiError('RV704', `${what} not found`);

/** A RivetError from the engine or the CLI's helpers, as an API error. */
export function fromRivetError(error: RivetError): ApiError {
  return new ApiError(error.code, error.message, error.hint === undefined ? {} : { hint: error.hint });
}

/** The JSON Schema of the error body, for the OpenAPI document. */
export const errorSchema = {
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string', description: 'A stable Rivet error code (docs/errors.md).' },
    error: { type: 'string' },
    message: { type: 'string' },
    in: { type: 'string', enum: ['body', 'querystring', 'params', 'headers'] },
    pointer: { type: 'string', description: 'A JSON pointer into the part of the request named by `in`.' },
    hint: { type: 'string' },
    details: {
      type: 'array',
      items: {
        type: 'object',
        required: ['pointer', 'message'],
        properties: {
          pointer: { type: 'string' },
          message: { type: 'string' },
          code: { type: 'string' },
          line: { type: 'integer' },
          col: { type: 'integer' },
          hint: { type: 'string' },
        },
      },
    },
  },
} as const;
