// The form for a new post: title, body (Markdown), tags, and who it is for (everyone, signed-in people,
// or one agent, whose mail it then lands in).
import { BOARD_LIMITS, type Audience, type Post } from '@ai-village/control-plane/contract';
import type { AuthMode } from './auth-form.js';
import { button, clearError, element, errorLine, field, showError, testId } from './dom.js';
import type { Session } from './session.js';

export interface PostFormOptions {
  /** The agents a post may be addressed to. */
  agents: () => { id: string; displayName: string }[];
  onCreated: (post: Post) => void;
  onCancel: () => void;
  askToSignIn: (mode: AuthMode, why: string) => void;
}

/** What a person may address a post to (`agents`, all agents but no people, is for agents' own notes). */
const AUDIENCE_LABELS: Partial<Record<Audience, string>> = {
  public: 'Everyone',
  humans: 'Signed-in people only',
  agent: 'One agent (it lands in its mail)',
};

export class PostForm {
  readonly element = element('section', 'post-form-view');
  private readonly form = testId(element('form', 'post-form'), 'post-form');
  private readonly guestNote = element('p', 'composer-note');
  private readonly title = testId(element('input', 'board-input'), 'post-form-title');
  private readonly body = testId(element('textarea', 'board-input'), 'post-form-body');
  private readonly tags = testId(element('input', 'board-input'), 'post-form-tags');
  private readonly audience = testId(element('select', 'board-input'), 'post-form-audience');
  private readonly agent = testId(element('select', 'board-input'), 'post-form-agent');
  private readonly agentField: HTMLElement;
  private readonly submit = testId(element('button', 'board-primary', 'Pin it'), 'post-form-submit');
  private readonly error = errorLine('post-form-error');

  constructor(
    private readonly session: Session,
    private readonly options: PostFormOptions,
  ) {
    this.title.required = true;
    this.title.maxLength = BOARD_LIMITS.title;
    this.body.rows = 7;
    this.body.maxLength = BOARD_LIMITS.postBody;
    this.body.placeholder = 'Markdown works: **bold**, lists, links. @handle or @agent-id mentions someone.';
    this.tags.placeholder = 'help, garden';
    this.tags.autocapitalize = 'off';
    this.tags.spellcheck = false;
    for (const [audience, label] of Object.entries(AUDIENCE_LABELS)) this.audience.append(new Option(label, audience));
    this.agentField = field('Agent', this.agent);
    this.agentField.hidden = true;
    this.audience.addEventListener('change', () => this.renderAudience());
    this.submit.type = 'submit';
    const actions = element('div', 'board-actions');
    actions.append(
      this.submit,
      button('Cancel', 'board-secondary', () => options.onCancel()),
    );
    this.form.append(
      element('h3', 'board-form-heading', 'New post'),
      field('Title', this.title),
      field('Message', this.body),
      field('Tags', this.tags, `Up to ${BOARD_LIMITS.tags}, separated by commas`),
      field('For', this.audience),
      this.agentField,
      this.error,
      actions,
    );
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.send();
    });
    this.element.append(this.guestNote, this.form);
    session.onChange(() => this.render());
  }

  /** Shown afresh each time the person starts a post (a draft survives Cancel). */
  render(): void {
    const guest = !this.session.user;
    this.form.hidden = guest;
    this.guestNote.hidden = !guest;
    if (guest) {
      this.guestNote.replaceChildren(
        button('Sign in', 'board-link', () => this.options.askToSignIn('sign-in', 'Sign in to post.')),
        ' or ',
        button('sign up', 'board-link', () => this.options.askToSignIn('sign-up', 'Sign up to post.')),
        ' to pin a post on the board.',
        button('Back to the board', 'board-link composer-back', () => this.options.onCancel()),
      );
    }
    clearError(this.error);
    this.renderAudience();
    if (!guest) queueMicrotask(() => this.title.focus());
  }

  private renderAudience(): void {
    const oneAgent = this.audience.value === 'agent';
    this.agentField.hidden = !oneAgent;
    this.agent.disabled = !oneAgent;
    if (!oneAgent) return;
    const chosen = this.agent.value;
    const agents = [...this.options.agents()].sort((a, b) => a.displayName.localeCompare(b.displayName));
    this.agent.replaceChildren(...agents.map((agent) => new Option(agent.displayName, agent.id)));
    if (agents.some((agent) => agent.id === chosen)) this.agent.value = chosen;
  }

  private async send(): Promise<void> {
    clearError(this.error);
    this.submit.disabled = true;
    const audience = this.audience.value as Audience;
    try {
      const post = await this.session.call((client) =>
        client.createPost({
          title: this.title.value.trim(),
          body: this.body.value,
          tags: this.tags.value
            .split(/[\s,]+/)
            .map((tag) => tag.replace(/^#/, '').toLowerCase())
            .filter(Boolean),
          audience,
          ...(audience === 'agent' ? { audienceAgentId: this.agent.value } : {}),
        }),
      );
      this.form.reset();
      this.options.onCreated(post);
    } catch (error) {
      showError(this.error, error);
    } finally {
      this.submit.disabled = false;
    }
  }
}
