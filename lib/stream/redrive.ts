// The operator action `redrive` (docs/architecture.md §7): re-run failed stream work by event id, or every
// dropped event, once its cause is fixed. It runs exactly the handler the stream ran (lib/stream/handlers.ts),
// from the copy of the event its FAILURE item keeps, or from the EVENT item when nothing failed yet. A redrive
// that fails again leaves the failure dropped, with the new error, for the operator to look at.
import { BadRequestError } from '../kernel/errors.ts';
import type { AdminAction, ActionInput, ActionOutput } from '../admin/action.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { getEvent } from '../store/events.ts';
import { getFailure, listFailures, resolveFailure, type EventFailure } from '../store/failures.ts';
import { workFor } from './dispatch.ts';
import { causeOf, recordFailedAttempt, type FailureDeps } from './failures.ts';
import { EVENT_HANDLERS } from './handlers.ts';

/** Events redriven by one `{"all":true}` call at most; call again for the rest (the answer says how many remain). */
export const REDRIVE_BATCH = 50;

type Request = { readonly eventId: string } | { readonly all: true };

const parse = (input: ActionInput): Request => {
  const unknown = Object.keys(input).filter((k) => k !== 'eventId' && k !== 'all');
  if (unknown.length > 0) throw new BadRequestError(`unknown field(s): ${unknown.join(', ')}`);
  if (input.all === true && input.eventId === undefined) return { all: true };
  if (typeof input.eventId === 'string' && /^[0-9a-f]{64}$/.test(input.eventId) && input.all === undefined) return { eventId: input.eventId };
  throw new BadRequestError('redrive takes {"eventId":"<64 hex digits, from the event.dropped log line>"} or {"all":true}');
};

type Outcome = { eventId: string; result: 'succeeded' | 'failed' | 'not_found'; error?: { name: string; message: string; errcode?: number } };

const redriveOne = async (deps: WeChatDeps & FailureDeps, eventId: string): Promise<Outcome> => {
  const failure = await getFailure(deps, eventId);
  const event = failure?.event ?? (await getEvent(deps, eventId));
  if (!event) return { eventId, result: 'not_found' };
  try {
    await workFor(deps, EVENT_HANDLERS)(event)();
  } catch (error) {
    // An operator's replay that fails stays with the operator: dropped, not put back on the retry schedule.
    const previous: EventFailure | undefined = failure;
    await recordFailedAttempt(deps, event, error, { permanent: true, ...(previous ? { previous } : {}) });
    const { name, message, errcode } = causeOf(error);
    return { eventId, result: 'failed', error: { name, message, ...(errcode === undefined ? {} : { errcode }) } };
  }
  if (failure) await resolveFailure(deps, eventId);
  deps.logger.info('event.redriven', { eventId, kind: event.kind, authorizerAppid: event.authorizerAppid });
  return { eventId, result: 'succeeded' };
};

/** `{"eventId"}`: that event; `{"all":true}`: up to REDRIVE_BATCH dropped events, oldest first. */
export const redrive: AdminAction = async (deps: WeChatDeps & FailureDeps, input: ActionInput): Promise<ActionOutput> => {
  const request = parse(input);
  if ('eventId' in request) return { ...(await redriveOne(deps, request.eventId)) };
  const page = await listFailures(deps, 'dropped', { limit: REDRIVE_BATCH });
  const outcomes: Outcome[] = [];
  for (const eventId of page.eventIds) outcomes.push(await redriveOne(deps, eventId));
  return {
    redriven: outcomes.length,
    succeeded: outcomes.filter((o) => o.result === 'succeeded').length,
    failed: outcomes.filter((o) => o.result === 'failed'),
    more: page.cursor !== undefined,
  };
};
