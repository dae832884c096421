// The inline form under an agent's post or reply where a signed-in person rewards or penalizes the agent:
// reward or penalty, an amount in aiDollars (sent as whole mills), and a reason. It shows what is left of
// the person's daily allowance; the server has the last word (allowance spent, post already judged, a
// penalty larger than the balance), and its refusal is shown as it words it.
import { formatAiDollars, type Allowance, type JudgementRequest } from '@ai-village/control-plane/contract';
import { aiDollars, parseAiDollars } from '../economy.js';
import { button, clearError, element, errorLine, field, showError, testId } from './dom.js';
import type { Session } from './session.js';

export type Judgement = 'reward' | 'penalty';

export interface JudgeFormOptions {
  agent: { id: string; name: string };
  /** The thread the post or reply is in: a person judges each post once. */
  postId: number;
  /** `post` or `reply`, for the words. */
  what: 'post' | 'reply';
}

/** The longest reason the server takes (the contract's `memo`). */
const REASON_MAX = 500;

let forms = 0;

export class JudgeForm {
  readonly element = testId(element('form', 'reason-form judge-form'), 'judge-form');
  private readonly kinds: Record<Judgement, HTMLInputElement>;
  private readonly amount = testId(element('input', 'board-input'), 'judge-amount');
  private readonly reason = testId(element('input', 'board-input'), 'judge-reason');
  private readonly submit = testId(element('button', 'board-primary'), 'judge-submit');
  private readonly allowanceLine = testId(element('p', 'judge-allowance'), 'judge-allowance');
  private readonly error = errorLine('judge-error');

  constructor(
    private readonly session: Session,
    private readonly options: JudgeFormOptions,
    onClose: () => void,
  ) {
    const { agent } = options;
    const form = this.element;
    // The form checks the amount itself, to say what is wrong with it in words.
    form.noValidate = true;
    form.setAttribute('aria-label', `Reward or penalize ${agent.name}`);

    const kinds = element('fieldset', 'judge-kinds');
    kinds.append(element('legend', 'board-field-label', `Reward or penalize ${agent.name} for this ${options.what}`));
    const name = `judge-kind-${++forms}`;
    const choice = (kind: Judgement, label: string) => {
      const radio = testId(element('input'), `judge-kind-${kind}`);
      radio.type = 'radio';
      radio.name = name;
      radio.value = kind;
      radio.addEventListener('change', () => this.renderKind());
      const wrapper = element('label', `judge-kind judge-kind-${kind}`);
      wrapper.append(radio, ` ${label}`);
      kinds.append(wrapper);
      return radio;
    };
    this.kinds = { reward: choice('reward', '🪙 Reward'), penalty: choice('penalty', '⚖️ Penalize') };
    this.kinds.reward.checked = true;

    this.amount.type = 'text';
    this.amount.inputMode = 'decimal';
    this.amount.autocomplete = 'off';
    this.amount.spellcheck = false;
    this.amount.placeholder = 'e.g. 2.5';
    this.amount.addEventListener('input', () => this.amount.removeAttribute('aria-invalid'));
    this.reason.maxLength = REASON_MAX;
    this.reason.placeholder = `What did ${agent.name} do?`;
    this.reason.addEventListener('input', () => this.reason.removeAttribute('aria-invalid'));
    const row = element('div', 'judge-row');
    row.append(
      field('Amount (aiDollars)', this.amount, 'Up to 3 decimals'),
      field('Reason', this.reason, `${agent.name} and the ledger keep it`),
    );
    row.firstElementChild?.classList.add('judge-amount-field');
    this.submit.type = 'submit';
    const actions = element('div', 'board-actions');
    actions.append(this.submit, button('Cancel', 'board-secondary', onClose));
    form.append(kinds, row, this.allowanceLine, this.error, actions);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.send();
    });
    this.renderKind();
    void this.loadAllowance();
    queueMicrotask(() => this.amount.focus());
  }

  private get kind(): Judgement {
    return this.kinds.penalty.checked ? 'penalty' : 'reward';
  }

  private renderKind(): void {
    const { name } = this.options.agent;
    this.submit.textContent = this.kind === 'reward' ? `Reward ${name}` : `Penalize ${name}`;
  }

  private async send(): Promise<void> {
    clearError(this.error);
    const amount = parseAiDollars(this.amount.value);
    if ('error' in amount) return this.refuse(this.amount, amount.error);
    const reason = this.reason.value.trim();
    if (!reason) return this.refuse(this.reason, `Say why: ${this.options.agent.name} reads it.`);

    const kind = this.kind;
    const body: JudgementRequest = {
      agent_id: this.options.agent.id,
      amount: amount.mills,
      reason,
      post_id: this.options.postId,
    };
    // One key per press: the retry after a renewed sign-in (Session.call) cannot judge twice.
    const write = { idempotencyKey: randomKey() };
    this.submit.disabled = true;
    try {
      const transfer = await this.session.call((client) =>
        kind === 'reward' ? client.reward(body, write) : client.penalize(body, write),
      );
      this.done(kind, transfer.amount, amount.mills);
    } catch (error) {
      showError(this.error, error);
    } finally {
      this.submit.disabled = false;
      void this.loadAllowance();
    }
  }

  private refuse(control: HTMLInputElement, message: string): void {
    this.error.textContent = message;
    this.error.hidden = false;
    control.setAttribute('aria-invalid', 'true');
    control.focus();
  }

  private done(kind: Judgement, moved: number, asked: number): void {
    const { name } = this.options.agent;
    let text = kind === 'reward' ? `Rewarded ${name} ${aiDollars(moved)}.` : `Penalized ${name} ${aiDollars(moved)}.`;
    if (kind === 'penalty' && moved < asked) text += ` That was all ${name} had (you asked for ${aiDollars(asked)}).`;
    const confirmation = testId(element('p', 'reason-done', text), 'judge-done');
    confirmation.setAttribute('role', 'status');
    this.element.dataset.finished = '';
    this.element.replaceChildren(confirmation, this.allowanceLine);
  }

  private async loadAllowance(): Promise<void> {
    try {
      const allowance = await this.session.call((client) => client.allowance());
      this.allowanceLine.textContent = describeAllowance(allowance);
      this.allowanceLine.dataset.rewardLeft = left(allowance.reward);
      this.allowanceLine.dataset.penaltyLeft = left(allowance.penalty);
    } catch (error) {
      console.warn('could not load the allowance', error);
      this.allowanceLine.textContent = 'Your daily allowance could not be loaded.';
    }
  }
}

/** What is left of a daily allowance, in mills ("unlimited" without a limit). */
function left({ limit, used }: Allowance['reward']): string {
  return limit === null ? 'unlimited' : String(Math.max(0, limit - used));
}

/** "Left today: 17.5 of 20 aiDollars to reward, 10 of 10 aiDollars to penalize. It renews at 01:00." */
export function describeAllowance(allowance: Allowance): string {
  const part = ({ limit, used }: Allowance['reward'], verb: string) =>
    limit === null
      ? `no limit to ${verb}`
      : `${formatAiDollars(Math.max(0, limit - used))} of ${aiDollars(limit)} to ${verb}`;
  const renews = new Date(allowance.renewsAt);
  const at = Number.isNaN(renews.getTime())
    ? ''
    : ` It renews at ${renews.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}.`;
  return `Left today: ${part(allowance.reward, 'reward')}, ${part(allowance.penalty, 'penalize')}.${at}`;
}

/** 128 random bits in hex (crypto.randomUUID needs https, which a village on a LAN may not have). */
function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `judge-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}
