import type { z } from 'zod';

type FormErrors = Record<string, unknown>;

/**
 * A react-admin form `validate` from the API's own zod schema: the form's values, turned into the
 * request body by `toRequest`, are checked exactly as the server will check them, and each issue is
 * shown under its field (issues about the whole body under `rootField`).
 */
export function validateWith<Values extends Record<string, unknown>>(
  schema: z.ZodType,
  rootField: string,
  toRequest: (values: Values) => unknown = (values) => values,
) {
  return (values: Values): FormErrors => {
    let body: unknown;
    try {
      body = toRequest(values);
    } catch (error) {
      // A field the form itself could not read (an amount, a JSON text): its own message.
      if (error instanceof FieldError) return { [error.field]: error.message };
      throw error;
    }
    const result = schema.safeParse(body);
    if (result.success) return {};
    const errors: FormErrors = {};
    for (const issue of result.error.issues) {
      const path = issue.path.length ? issue.path.map(String) : [rootField];
      let node = errors;
      path.slice(0, -1).forEach((key) => (node = (node[key] ??= {}) as FormErrors));
      node[path.at(-1)!] ??= issue.message;
    }
    return errors;
  };
}

/** Thrown by a form's `toRequest` when a field cannot be turned into what the request needs. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
