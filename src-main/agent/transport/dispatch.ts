import * as v from 'valibot';
import { RequestMessageSchema, isMethod, methods, type ApiErrorBody, type Method, type Params, type ParsedParams, type ResponseMessage, type Result } from '../../../src-shared/api.js';
import { HindsightError } from '../../../src-shared/errors.js';
import type { Agent } from '../agent.js';

/**
 * Answers one message from a client: checks its shape, its method and its
 * parameters against the contract before the agent sees it. Whatever comes
 * in, a typed error goes back; nothing a client sends can crash the agent.
 */
export async function dispatch(agent: Agent, raw: unknown): Promise<ResponseMessage> {
  const message = v.safeParse(RequestMessageSchema, raw);
  if (!message.success) {
    const id = typeof raw === 'object' && raw !== null && typeof (raw as { id?: unknown }).id === 'number' ? (raw as { id: number }).id : null;
    return failure(id, { code: 'E_BAD_MESSAGE', message: `Not a request this agent understands: ${v.summarize(message.issues)}` });
  }
  const { id, method, params } = message.output;
  if (!isMethod(method)) return failure(id, { code: 'E_UNKNOWN_METHOD', message: `There is no method "${method}".` });
  try {
    return { type: 'response', id, ok: true, result: await invoke(agent, method, params as never) };
  } catch (err) {
    return failure(id, errorBody(err));
  }
}

/** Checks `params` against the method's schema (filling defaults) and calls the agent: the same path every transport takes. */
export async function invoke<M extends Method>(agent: Agent, method: M, params: Params<M>): Promise<Result<M>> {
  const parsed = v.safeParse(methods[method], params ?? {});
  if (!parsed.success) throw new HindsightError('E_INVALID_PARAMS', `Invalid parameters for ${method}: ${v.summarize(parsed.issues)}`);
  return agent.call(method, parsed.output as ParsedParams<M>);
}

export function errorBody(err: unknown): ApiErrorBody {
  if (err instanceof HindsightError) return { code: err.code, message: err.message };
  return { code: 'E_INTERNAL', message: `Something went wrong inside the agent: ${(err as Error)?.message ?? String(err)}` };
}

function failure(id: number | null, error: ApiErrorBody): ResponseMessage {
  return { type: 'response', id, ok: false, error };
}
