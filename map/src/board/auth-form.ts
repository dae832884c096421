// The board's account bar: who is signed in (with a sign-out button), or, for a guest, buttons that open
// an inline sign-in / sign-up form. Other views open the form when a guest tries to reply, post or flag.
import { PASSWORD_MIN, type User } from '@ai-village/control-plane/contract';
import { button, clearError, element, errorLine, field, showError, testId } from './dom.js';
import type { Session } from './session.js';

export type AuthMode = 'sign-in' | 'sign-up';

export class AuthForm {
  readonly element = element('section', 'board-account');
  private readonly bar = testId(element('div', 'account-bar'), 'account-bar');
  private readonly form = testId(element('form', 'auth-form'), 'auth-form');
  private readonly heading = element('h3', 'auth-heading');
  private readonly why = element('p', 'auth-why');
  private readonly switchMode = element('p', 'auth-switch');
  private readonly error = errorLine('auth-error');
  private readonly submit = testId(element('button', 'board-primary'), 'auth-submit');
  private readonly inputs = {
    login: input('text', 'auth-login', 'username'),
    handle: input('text', 'auth-handle', 'username'),
    displayName: input('text', 'auth-display-name', 'name'),
    email: input('email', 'auth-email', 'email'),
    password: input('password', 'auth-password', 'current-password'),
  };
  private readonly fields: Record<keyof AuthForm['inputs'], HTMLElement>;
  private mode: AuthMode = 'sign-in';

  constructor(private readonly session: Session) {
    this.fields = {
      login: field('Handle or email', this.inputs.login),
      handle: field('Handle', this.inputs.handle, 'What @mentions call you: 2-30 of a-z, 0-9, _ and -'),
      displayName: field('Display name (optional)', this.inputs.displayName),
      email: field('Email', this.inputs.email),
      password: field('Password', this.inputs.password, `At least ${PASSWORD_MIN} characters`),
    };
    this.inputs.handle.maxLength = 30;
    this.inputs.displayName.maxLength = 60;
    this.inputs.displayName.required = false;
    this.submit.type = 'submit';
    const cancel = button('Cancel', 'board-secondary', () => this.close());
    const actions = element('div', 'board-actions');
    actions.append(this.submit, cancel);
    this.form.append(this.heading, this.why, ...Object.values(this.fields), this.error, actions, this.switchMode);
    this.form.hidden = true;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.send();
    });
    this.element.append(this.bar, this.form);
    session.onChange(() => this.render());
    this.render();
  }

  /** Opens the form (for a guest), saying why when another view asked, e.g. "Sign in to reply." */
  open(mode: AuthMode, why = ''): void {
    if (this.session.user) return;
    this.mode = mode;
    this.why.textContent = why;
    this.why.hidden = !why;
    clearError(this.error);
    this.renderForm();
    this.form.hidden = false;
    this.element.scrollIntoView({ block: 'nearest' });
    (mode === 'sign-in' ? this.inputs.login : this.inputs.handle).focus();
  }

  close(): void {
    this.form.hidden = true;
    this.inputs.password.value = '';
  }

  private async send(): Promise<void> {
    clearError(this.error);
    this.submit.disabled = true;
    const { login, handle, displayName, email, password } = this.inputs;
    try {
      if (this.mode === 'sign-in') await this.session.signIn(login.value.trim(), password.value);
      else
        await this.session.signUp({
          handle: handle.value.trim(),
          ...(displayName.value.trim() ? { displayName: displayName.value.trim() } : {}),
          email: email.value.trim(),
          password: password.value,
        });
      this.close();
    } catch (error) {
      showError(this.error, error);
    } finally {
      this.submit.disabled = false;
    }
  }

  private render(): void {
    const user = this.session.user;
    if (user) this.close();
    this.bar.replaceChildren(...(user ? this.signedIn(user) : this.signedOut()));
  }

  private signedIn(user: User): HTMLElement[] {
    const who = testId(element('span', 'account-who'), 'auth-user');
    who.append(
      element('strong', undefined, user.displayName),
      ' ',
      element('span', 'account-handle', `@${user.handle}`),
    );
    if (user.role !== 'human') who.append(' ', element('span', 'account-role', user.role));
    const signOut = testId(
      button('Sign out', 'board-secondary', () => void this.session.signOut()),
      'sign-out',
    );
    return [who, signOut];
  }

  private signedOut(): HTMLElement[] {
    const note = element('span', 'account-who account-guest', 'Reading as a guest');
    const signIn = testId(
      button('Sign in', 'board-secondary', () => this.open('sign-in')),
      'auth-open-sign-in',
    );
    const signUp = testId(
      button('Sign up', 'board-primary', () => this.open('sign-up')),
      'auth-open-sign-up',
    );
    return [note, signIn, signUp];
  }

  private renderForm(): void {
    const signingUp = this.mode === 'sign-up';
    this.heading.textContent = signingUp ? 'Create an account' : 'Sign in';
    this.submit.textContent = signingUp ? 'Sign up' : 'Sign in';
    const shown: (keyof AuthForm['inputs'])[] = signingUp
      ? ['handle', 'displayName', 'email', 'password']
      : ['login', 'password'];
    for (const [name, wrapper] of Object.entries(this.fields) as [keyof AuthForm['inputs'], HTMLElement][]) {
      const visible = shown.includes(name);
      wrapper.hidden = !visible;
      // Hidden fields must not block the browser's own validation of the visible ones.
      this.inputs[name].disabled = !visible;
    }
    this.inputs.password.autocomplete = signingUp ? 'new-password' : 'current-password';
    this.inputs.password.minLength = signingUp ? PASSWORD_MIN : 0;
    const hint = this.fields.password.querySelector<HTMLElement>('.board-field-hint');
    if (hint) hint.hidden = !signingUp;
    const other = signingUp ? 'sign-in' : 'sign-up';
    this.switchMode.replaceChildren(
      signingUp ? 'Have an account? ' : 'New here? ',
      button(signingUp ? 'Sign in' : 'Create an account', 'board-link', () =>
        this.open(other, this.why.textContent ?? ''),
      ),
    );
  }
}

function input(type: string, id: string, autocomplete: AutoFill): HTMLInputElement {
  const control = testId(element('input', 'board-input'), id);
  control.type = type;
  control.autocomplete = autocomplete;
  control.required = true;
  control.spellcheck = false;
  if (type === 'text') control.autocapitalize = 'off';
  return control;
}
