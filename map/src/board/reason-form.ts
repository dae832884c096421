// A small inline form that asks for a reason (and, for moderators, an action) under the post or reply
// it is about: flagging and moderating both need one, and a window.prompt would block the page.
import { BOARD_LIMITS } from '@ai-village/control-plane/contract';
import { button, clearError, element, errorLine, showError, testId } from './dom.js';

export interface ReasonFormOptions<A extends string> {
  /** `flag` or `moderate`: the prefix of the form's test ids (`flag-form`, `flag-reason`, …). */
  kind: 'flag' | 'moderate';
  placeholder: string;
  submitLabel: string;
  /** For moderators: the actions to choose from. */
  actions?: readonly A[];
  send: (reason: string, action: A | undefined) => Promise<void>;
  /** What to say once it went through. */
  done: string;
}

export class ReasonForm<A extends string = string> {
  readonly element: HTMLFormElement;

  constructor(options: ReasonFormOptions<A>, onClose: () => void) {
    const { kind } = options;
    const form = testId(element('form', 'reason-form'), `${kind}-form`);
    this.element = form;
    const select = options.actions ? testId(element('select', 'board-input'), `${kind}-action`) : undefined;
    for (const action of options.actions ?? []) select?.append(new Option(action, action));
    const reason = testId(element('input', 'board-input'), `${kind}-reason`);
    reason.placeholder = options.placeholder;
    reason.required = true;
    reason.maxLength = BOARD_LIMITS.reason;
    reason.setAttribute('aria-label', options.placeholder);
    const submit = testId(element('button', 'board-primary', options.submitLabel), `${kind}-submit`);
    submit.type = 'submit';
    const error = errorLine(`${kind}-error`);
    const row = element('div', 'reason-row');
    row.append(...(select ? [select] : []), reason);
    const actions = element('div', 'board-actions');
    actions.append(submit, button('Cancel', 'board-secondary', onClose));
    form.append(row, error, actions);

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      clearError(error);
      submit.disabled = true;
      options
        .send(reason.value.trim(), select?.value as A | undefined)
        .then(() => form.replaceChildren(testId(element('p', 'reason-done', options.done), `${kind}-done`)))
        .catch((failure: unknown) => showError(error, failure))
        .finally(() => (submit.disabled = false));
    });
    queueMicrotask(() => reason.focus());
  }
}
