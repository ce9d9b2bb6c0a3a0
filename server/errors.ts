/**
 * The API's error type: an HTTP status plus a stable code from protocol ERROR_CODES. Handlers
 * throw these; the app's single error handler turns them (and everything else) into ErrorBody.
 */
import { ERROR_CODES } from '../protocol/index.ts';

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new ApiError(400, ERROR_CODES.badRequest, message);
export const unauthorized = (message: string) => new ApiError(401, ERROR_CODES.unauthorized, message);
export const notFound = (message: string) => new ApiError(404, ERROR_CODES.notFound, message);
export const conflict = (message: string) => new ApiError(409, ERROR_CODES.conflict, message);
