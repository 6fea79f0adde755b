// The fleet's operator actions (docs/fleet.md, docs/architecture.md §7), as AdminAction functions for the `admin`
// function's registry: templates, rollout, rolloutStatus, release, revert. Each validates its whole input first
// (BadRequestError, nothing written, nothing called) and answers a JSON object.
import { BadRequestError } from '../kernel/errors.ts';
import type { AdminAction } from '../admin/action.ts';
import { getRolloutHeader, RolloutNotFoundError, rolloutAccounts, updateRolloutAccount, updateRolloutHeader } from '../store/rollouts.ts';
import type { RolloutAccount, RolloutHeader } from '../store/rollout-types.ts';
import { withComponentToken } from '../tokens/component-token.ts';
import { rolloutIdOf, rolloutRequestOf, templatesInputOf } from './action-input.ts';
import { resolveTargets, startRollout } from './plan.ts';
import { inPool } from './records.ts';
import { getRolloutStatus } from './status.ts';
import type { FleetDeps } from './context.ts';

/** The template library: drafts uploaded from WeChat's developer tool and templates; optionally add a draft or delete a template first. */
export const templatesAction: AdminAction = async (deps, input) => {
  const { addDraftId, deleteTemplateId, templateType } = templatesInputOf(input);
  return withComponentToken(deps, async (token) => {
    if (addDraftId !== undefined)
      await deps.wechat.addToTemplate(token, { draftId: addDraftId, ...(templateType !== undefined ? { templateType } : {}) });
    if (deleteTemplateId !== undefined) await deps.wechat.deleteTemplate(token, { templateId: deleteTemplateId });
    const [drafts, templates] = await Promise.all([deps.wechat.getTemplateDraftList(token), deps.wechat.getTemplateList(token)]);
    return { drafts, templates };
  });
};

/** Starts a rollout; answers at once with its id (the steps run from the stream). */
export const rolloutAction: AdminAction = async (deps, input) => {
  const request = rolloutRequestOf(input);
  const templates = await withComponentToken(deps, (token) => deps.wechat.getTemplateList(token));
  if (!templates.some((t) => t.templateId === request.templateId)) {
    const known = templates.map((t) => `${t.templateId} (${t.userVersion})`).join(', ') || 'none';
    throw new BadRequestError(`template ${request.templateId} is not in the template library; templates: ${known}`);
  }
  const resolved = await resolveTargets(deps, request.target);
  if (request.target.kind === 'authorizers' && resolved.skipped.length > 0) {
    throw new BadRequestError(`these accounts cannot take part: ${resolved.skipped.map((s) => `${s.authorizerAppid} ${s.reason}`).join('; ')}`);
  }
  if (resolved.eligible.length === 0) {
    const what = request.target.kind === 'tenant' ? `with tenant ${request.target.tenant}` : 'at all';
    throw new BadRequestError(`no authorized mini program that granted code management ${what}`);
  }
  const header = await startRollout(deps, request, resolved);
  return { rolloutId: header.rolloutId, accounts: resolved.eligible.length, skipped: resolved.skipped.length };
};

const headerOf = async (deps: FleetDeps, rolloutId: string): Promise<RolloutHeader> => {
  const header = await getRolloutHeader(deps, rolloutId);
  if (!header) throw new BadRequestError(`no rollout ${rolloutId}`);
  return header;
};

export const rolloutStatusAction: AdminAction = async (deps, input) => {
  const rolloutId = rolloutIdOf(input);
  try {
    return { ...(await getRolloutStatus(deps, rolloutId)) };
  } catch (error) {
    if (error instanceof RolloutNotFoundError) throw new BadRequestError(error.message);
    throw error;
  }
};

/**
 * Reopens the rollout (a new phase when it had completed) with `change` on its header, then flags every account
 * in `stages` with `flag`; their changes on the stream run the release or revert.
 */
const request = async (deps: FleetDeps, header: RolloutHeader, change: Record<string, unknown>, stages: ReadonlySet<string>, flag: string) => {
  const reopen = header.status === 'completed' ? { status: 'running', phase: header.phase + 1 } : {};
  if (!(await updateRolloutHeader(deps, header, { set: { ...change, ...reopen }, remove: ['completedAt'], active: true }))) {
    throw new BadRequestError(`rollout ${header.rolloutId} changed meanwhile; try again`);
  }
  const flagged: RolloutAccount[] = [];
  for await (const page of rolloutAccounts(deps, header.rolloutId, { consistent: true })) flagged.push(...page.filter((a) => stages.has(a.stage)));
  let requested = 0;
  await inPool(flagged, 20, async (a) => {
    if (await updateRolloutAccount(deps, a, { version: a.version }, { set: { [flag]: true }, remove: ['nextAttemptAt'] })) requested += 1;
  });
  return { rolloutId: header.rolloutId, requested, phase: header.phase + (header.status === 'completed' ? 1 : 0) };
};

/** Releases what passed its audit (manual rollouts), and raises gray releases to everyone; later passes release too. */
export const releaseAction: AdminAction = async (deps, input) => {
  const header = await headerOf(deps, rolloutIdOf(input));
  if (header.halted) throw new BadRequestError(`rollout ${header.rolloutId} was reverted; start a new rollout instead`);
  return request(deps, header, { releaseRequested: true }, new Set(['audit_succeeded', 'gray_released']), 'releaseRequested');
};

/** Stops the rollout and reverts every account it released (revertcoderelease, or revertgrayrelease for a gray release). */
export const revertAction: AdminAction = async (deps, input) => {
  const header = await headerOf(deps, rolloutIdOf(input));
  return request(deps, header, { halted: true }, new Set(['released', 'gray_released']), 'revertRequested');
};

/** The registry lines for lib/admin/actions.ts. */
export const FLEET_ACTIONS: Readonly<Record<string, AdminAction>> = {
  templates: templatesAction,
  rollout: rolloutAction,
  rolloutStatus: rolloutStatusAction,
  release: releaseAction,
  revert: revertAction,
};
